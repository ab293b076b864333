#include "apps/lecture/plot.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "apps/common/report.h"
#include "apps/lecture/common.h"

namespace dl::lecture {

namespace {

// Okabe-Ito colours (distinguishable with the common colour-vision deficiencies).
const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                "#E69F00", "#56B4E9", "#000000", "#999999"};
constexpr int kColors = sizeof(kPalette) / sizeof(kPalette[0]);
// One point shape per colour, filled (on lines) and open (points alone), so
// that series which fall on top of each other stay distinguishable.
const int kFilled[kColors] = {7, 5, 9, 11, 13, 15, 7, 5};
const int kOpen[kColors] = {6, 4, 8, 10, 12, 14, 6, 4};

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

std::string number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

std::string range(double lo, double hi) {
    return "[" + (std::isnan(lo) ? std::string("*") : number(lo)) + ":" +
           (std::isnan(hi) ? std::string("*") : number(hi)) + "]";
}

std::string column(const std::string& name) { return "(column(" + quote(name) + "))"; }

// Drawing order: bands under everything, then predictions, then measurements.
int layer(Style s) {
    switch (s) {
        case Style::Band: return 0;
        case Style::Predicted: return 1;
        default: return 2;
    }
}

std::string plot_clause(const std::string& csv, const Panel& p, const Series& s, int position) {
    const int index = (s.color >= 0 ? s.color : position) % kColors;
    const std::string colour = quote(kPalette[index]);
    const std::string filled = " pt " + std::to_string(kFilled[index]), open = " pt " + std::to_string(kOpen[index]);
    const std::string x = "(column(" + quote(p.x) + ")*" + number(p.x_scale) + ")";
    const std::string title = s.title.empty() ? " notitle" : " title " + quote(s.title);
    std::string u = quote(csv) + " using " + x + ":";
    switch (s.style) {
        case Style::Measured:
            return u + column(s.y) + " with linespoints lw 2" + filled + " ps 0.7 lc rgb " + colour + title;
        case Style::MeasuredLine: return u + column(s.y) + " with lines lw 2 lc rgb " + colour + title;
        case Style::Points: return u + column(s.y) + " with points" + open + " ps 1.1 lw 1.5 lc rgb " + colour + title;
        case Style::Predicted: return u + column(s.y) + " with lines lw 2 dt 2 lc rgb " + colour + title;
        case Style::Band:
            return u + column(s.lo) + ":" + column(s.hi) + " with filledcurves fs transparent solid 0.18 noborder lc rgb " +
                   colour + title;
        case Style::ErrorBars:
            return u + column(s.y) + ":" + column(s.lo) + ":" + column(s.hi) +
                   " with yerrorlines lw 2" + filled + " ps 0.7 lc rgb " + colour + title;
        case Style::Boxes:
            return u + column(s.y) + " with boxes fs solid 0.35 lc rgb " + colour + title;
    }
    return "";
}

// The smallest and largest positive finite value of the named columns (x: times scale).
std::pair<double, double> positive_range(const Table& t, const std::vector<std::string>& columns, double scale) {
    double lo = INFINITY, hi = 0.0;
    for (const std::string& name : columns) {
        const auto it = std::find(t.header.begin(), t.header.end(), name);
        if (it == t.header.end()) continue;
        const size_t c = static_cast<size_t>(it - t.header.begin());
        for (const auto& row : t.rows) {
            const double v = row[c] * scale;
            if (std::isfinite(v) && v > 0.0) lo = std::min(lo, v), hi = std::max(hi, v);
        }
    }
    return {lo, hi};
}

std::string tick_list(const std::vector<double>& ticks) {
    std::string out = "(";
    for (size_t i = 0; i < ticks.size(); ++i) out += (i ? ", " : "") + number(ticks[i]);
    return out + ")";
}

}  // namespace

std::vector<double> log_ticks(double lo, double hi) {
    if (!(lo > 0.0) || !(hi > lo) || hi / lo >= 100.0) return {};
    for (const std::vector<int>& mantissas : {std::vector<int>{1, 2, 5}, std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
        std::vector<double> ticks;
        for (int e = static_cast<int>(std::floor(std::log10(lo))); e <= static_cast<int>(std::ceil(std::log10(hi))); ++e)
            for (int m : mantissas) {
                const double v = m * std::pow(10.0, e);
                if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
            }
        if (ticks.size() >= 3) return ticks;
    }
    return {lo, hi};
}

std::string gnuplot_script(const std::vector<Table>& tables, const std::vector<std::string>& csv_paths,
                           const std::string& png, const std::vector<Panel>& panels) {
    std::ostringstream g;
    const int width = 560 * static_cast<int>(panels.size());
    g << "set terminal pngcairo size " << width << ",470 noenhanced font 'sans,10'\n"
      << "set output " << quote(png) << "\n"
      << "set datafile separator ','\nset datafile columnheaders\n"
      << "set grid lc rgb '#d8d8d8'\nset key below horizontal Left reverse samplen 3 spacing 1.15 height 0.6\n"
      << "set boxwidth 0.9 relative\n"
      // Autoscaled axes end at the data plus a margin, so no curve runs along the frame.
      << "set autoscale fix\nset offsets graph 0.03, graph 0.03, graph 0.04, graph 0.04\n"
      << "set multiplot layout 1," << panels.size() << "\n";
    for (const Panel& p : panels) {
        if (p.table < 0 || static_cast<size_t>(p.table) >= csv_paths.size() || tables.size() != csv_paths.size())
            throw std::invalid_argument("plot: panel '" + p.title + "' names table " + std::to_string(p.table) +
                                        " of " + std::to_string(csv_paths.size()));
        g << "unset arrow\nunset label\n"
          << "set title " << quote(p.title) << "\nset xlabel " << quote(p.xlabel) << "\nset ylabel "
          << quote(p.ylabel) << "\n"
          << (p.logx ? "set logscale x\n" : "unset logscale x\n")
          << (p.logy ? "set logscale y\n" : "unset logscale y\n")
          << "set format x '%g'\nset format y '%g'\n"
          << "set xrange " << range(p.xmin, p.xmax) << "\nset yrange " << range(p.ymin, p.ymax) << "\n"
          << (std::isnan(p.xtics) ? std::string("set xtics autofreq\n") : "set xtics " + number(p.xtics) + "\n");
        // Log axes spanning less than two decades get ticks at 1, 2, 5 x 10^k (gnuplot's decades would leave one label).
        const Table& table = tables[static_cast<size_t>(p.table)];
        std::vector<std::string> ys;
        for (const Series& se : p.series) ys.insert(ys.end(), {se.y, se.lo, se.hi});
        auto [xlo, xhi] = positive_range(table, {p.x}, p.x_scale);
        auto [ylo, yhi] = positive_range(table, ys, 1.0);
        if (!std::isnan(p.xmin)) xlo = p.xmin;
        if (!std::isnan(p.xmax)) xhi = p.xmax;
        if (!std::isnan(p.ymin)) ylo = p.ymin;
        if (!std::isnan(p.ymax)) yhi = p.ymax;
        const std::vector<double> xt = !p.xtic_list.empty() ? p.xtic_list : p.logx ? log_ticks(xlo, xhi) : std::vector<double>{};
        const std::vector<double> yt = p.logy ? log_ticks(ylo, yhi) : std::vector<double>{};
        g << (xt.empty() ? "" : "set xtics " + tick_list(xt) + "\n")
          << (yt.empty() ? "set ytics autofreq\n" : "set ytics " + tick_list(yt) + "\n");
        int tag = 1;
        for (const Marker& m : p.markers) {
            g << "set arrow " << tag << " from first " << number(m.x) << ", graph 0 to first " << number(m.x)
              << ", graph 1 nohead dt 3 lw 1.5 lc rgb '#444444'\n"
              << "set label " << tag << " " << quote(m.label) << " at first " << number(m.x)
              << ", graph " << number(m.label_y) << " offset character 0.6,0 tc rgb '#222222'\n";
            ++tag;
        }
        g << "plot ";
        bool first = true;
        for (int l = 0; l <= 2; ++l)
            for (size_t i = 0; i < p.series.size(); ++i) {
                if (layer(p.series[i].style) != l) continue;
                g << (first ? "" : ", \\\n     ")
                  << plot_clause(csv_paths[static_cast<size_t>(p.table)], p, p.series[i], static_cast<int>(i));
                first = false;
            }
        g << "\n";
    }
    g << "unset multiplot\n";
    return g.str();
}

void save_figure(Result& result, const Settings& s, const std::vector<Table>& tables,
                 const std::vector<Panel>& panels) {
    if (tables.empty()) throw std::invalid_argument("save_figure: no table for " + result.name);
    make_dirs(s.out);
    std::vector<std::string> paths;
    for (const Table& t : tables) {
        const std::string path = s.out + "/" + result.name + (t.name.empty() ? "" : "-" + t.name) + ".csv";
        {
            CsvWriter csv(path + ".part", t.header);
            for (const auto& row : t.rows) csv.row(row);
        }
        if (std::rename((path + ".part").c_str(), path.c_str()) != 0)
            throw std::runtime_error("cannot rename " + path + ".part to " + path);
        paths.push_back(path);
    }
    result.csv = paths.front();
    result.png = s.out + "/" + result.name + ".png";
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        result.note = "gnuplot is not installed (apt-get install gnuplot-nox): skipped " + result.png;
        result.png.clear();
        return;
    }
    const std::string tmp_png = result.png + ".tmp.png", script = result.png + ".gp", log = result.png + ".log";
    write_file_atomic(script, gnuplot_script(tables, paths, tmp_png, panels));
    const int rc = std::system(("gnuplot " + quote(script) + " 2>" + quote(log)).c_str());
    if (rc != 0) {
        std::remove(tmp_png.c_str());
        result.note = "gnuplot failed on " + script + " (see " + log + "): skipped " + result.png;
        result.png.clear();
        return;
    }
    std::remove(script.c_str());
    std::remove(log.c_str());
    if (std::rename(tmp_png.c_str(), result.png.c_str()) != 0) {
        result.note = "cannot rename " + tmp_png + " to " + result.png;
        result.png.clear();
    }
}

}  // namespace dl::lecture
