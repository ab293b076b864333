#include "apps/common/report.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dl {

bool file_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

void make_dirs(const std::string& path) {
    std::string partial;
    std::stringstream ss(path);
    std::string part;
    if (!path.empty() && path[0] == '/') partial = "/";
    while (std::getline(ss, part, '/')) {
        if (part.empty()) continue;
        partial += part + "/";
        if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create directory " + partial + ": " + std::strerror(errno));
    }
}

void write_file_atomic(const std::string& path, const std::string& content) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            throw std::runtime_error("cannot write " + tmp + " (disk full?); " + path + " is unchanged");
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
    }
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

void JsonLine::key(const std::string& k) {
    if (!body_.empty()) body_ += ", ";
    body_ += "\"" + json_escape(k) + "\": ";
}

JsonLine& JsonLine::add(const std::string& k, const std::string& value) {
    key(k);
    body_ += "\"" + json_escape(value) + "\"";
    return *this;
}

JsonLine& JsonLine::add(const std::string& k, double value, int precision) {
    key(k);
    if (!std::isfinite(value)) {
        body_ += "null";
        return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    body_ += buf;
    return *this;
}

JsonLine& JsonLine::add(const std::string& k, long value) {
    key(k);
    body_ += std::to_string(value);
    return *this;
}

JsonLine& JsonLine::add(const std::string& k, bool value) {
    key(k);
    body_ += value ? "true" : "false";
    return *this;
}

namespace {

// The lines of `text`; a last line without its newline (cut by a crash) is dropped.
std::vector<std::string> complete_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(text.substr(start, nl - start));
    return lines;
}

}  // namespace

CsvWriter::CsvWriter(const std::string& path, const std::vector<std::string>& header, bool append,
                     const std::string& comment, long keep_rows)
    : path_(path), columns_(header.size()) {
    std::string top;
    std::istringstream comments(comment);
    for (std::string line; std::getline(comments, line);) top += "# " + line + "\n";
    for (size_t i = 0; i < header.size(); ++i) top += (i ? "," : "") + header[i];
    top += "\n";
    bool keep = false;
    if (append && file_exists(path)) {
        std::ifstream in(path, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        keep = text.compare(0, top.size(), top) == 0;
        if (keep && keep_rows >= 0) {
            const std::vector<std::string> rows = complete_lines(text.substr(top.size()));
            std::string kept = top;
            for (long r = 0; r < keep_rows && r < static_cast<long>(rows.size()); ++r) kept += rows[r] + "\n";
            if (kept != text) write_file_atomic(path, kept);
        }
    }
    f_ = std::fopen(path.c_str(), keep ? "a" : "w");
    if (!f_) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    if (!keep && (std::fputs(top.c_str(), f_) < 0 || std::fflush(f_) != 0))
        throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
}

CsvWriter::~CsvWriter() {
    if (f_) std::fclose(f_);
}

void CsvWriter::row(const std::vector<double>& values) {
    if (values.size() != columns_)
        throw std::invalid_argument("csv " + path_ + ": row has " + std::to_string(values.size()) +
                                    " values, header has " + std::to_string(columns_));
    std::string line;
    for (size_t i = 0; i < values.size(); ++i) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%s%.8g", i ? "," : "", values[i]);
        line += buf;
    }
    line += "\n";
    if (std::fputs(line.c_str(), f_) < 0 || std::fflush(f_) != 0)
        throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno) +
                                 " (disk full?); the rows before are kept");
}

bool ProgressBar::stderr_is_tty() { return ::isatty(2) == 1; }

ProgressBar::ProgressBar(std::string label, int total)
    : label_(std::move(label)), total_(total), tty_(stderr_is_tty()),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void ProgressBar::update(int done, long examples, double running_loss) {
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? examples / secs : 0.0;
    const double eta = done > 0 ? secs * (total_ - done) / done : 0.0;
    const int width = 24, filled = total_ > 0 ? width * done / total_ : width;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %d/%d  %.0f ex/s  loss %.4f  ETA %.0fs ", label_.c_str(), bar.c_str(),
                 done, total_, rate, running_loss, eta);
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
}

namespace {

std::string gnuplot_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

std::string gnuplot_script(const std::string& csv, const std::string& png, const std::vector<PlotPanel>& panels) {
    std::ostringstream g;
    const int w = 560 * static_cast<int>(panels.size());
    g << "set terminal pngcairo size " << w << ",420 noenhanced font 'sans,10'\n"
      << "set output " << gnuplot_quote(png) << "\n"
      << "set datafile separator ','\n"
      << "set datafile columnheaders\n"
      << "set grid\nset key top right\n"
      << "set multiplot layout 1," << panels.size() << "\n";
    for (const PlotPanel& p : panels) {
        g << "set title " << gnuplot_quote(p.title) << "\n"
          << "set xlabel " << gnuplot_quote(p.xlabel) << "\nset ylabel " << gnuplot_quote(p.ylabel) << "\n"
          << (p.logx ? "set logscale x\n" : "unset logscale x\n")
          << (p.logy ? "set logscale y\n" : "unset logscale y\n")
          << "plot ";
        for (size_t i = 0; i < p.ys.size(); ++i)
            g << (i ? ", " : "") << gnuplot_quote(csv) << " using " << gnuplot_quote(p.x) << ":"
              << gnuplot_quote(p.ys[i]) << " with " << p.style << " lw 2 title " << gnuplot_quote(p.ys[i]);
        g << "\n";
    }
    g << "unset multiplot\n";
    return g.str();
}

}  // namespace

bool plot_csv(const std::string& csv, const std::string& png, const std::vector<PlotPanel>& panels,
              std::string& note) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        note = "gnuplot is not installed (apt-get install gnuplot-nox): skipped " + png;
        return false;
    }
    const std::string tmp_png = png + ".tmp.png", script = png + ".gp";
    write_file_atomic(script, gnuplot_script(csv, tmp_png, panels));
    const std::string cmd = "gnuplot " + gnuplot_quote(script) + " 2>" + gnuplot_quote(png + ".log");
    const int rc = std::system(cmd.c_str());
    std::remove(script.c_str());
    if (rc != 0) {
        std::remove(tmp_png.c_str());
        note = "gnuplot failed on " + csv + " (see " + png + ".log): skipped " + png;
        return false;
    }
    std::remove((png + ".log").c_str());
    if (std::rename(tmp_png.c_str(), png.c_str()) != 0) {
        note = "cannot rename " + tmp_png + " to " + png;
        return false;
    }
    return true;
}

}  // namespace dl
