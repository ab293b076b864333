#include "apps/study/output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "apps/common/report.h"

namespace dl::study {

namespace {

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

std::string percent(double v) { return std::isfinite(v) ? fmt("%.2f", 100.0 * v) : "-"; }

std::string accuracy_cell(const Summary& s) {
    if (!s.tuned) return "every grid point failed";
    if (s.final_test.n == 0) return "-";
    return percent(s.final_test.mean) + " +- " + percent(s.final_test.sd) + " (" + std::to_string(s.final_test.n) +
           ")";
}

std::string median_cell(double v, const char* format) {
    return std::isfinite(v) ? fmt(format, v) : "not reached";
}

std::string grid_text(const std::vector<RunResult>& tuning) {
    if (tuning.empty()) return "";
    if (tuning.size() == 1) return lr_text(tuning[0].spec.lr);
    return lr_text(tuning.front().spec.lr) + " .. " + lr_text(tuning.back().spec.lr) + " (" +
           std::to_string(tuning.size()) + ")";
}

std::string status_text(const RunResult& r) {
    switch (r.status) {
        case RunStatus::Done: return "done";
        case RunStatus::Failed: return "failed";
        case RunStatus::Partial: return "partial";
        default: return "pending";
    }
}

std::string csv_number(double v) { return std::isfinite(v) ? fmt("%.6g", v) : ""; }

std::string csv_text(std::string s) {
    for (char& c : s)
        if (c == ',' || c == '\n' || c == '"') c = ' ';
    return s;
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

std::string quote(const std::string& s) {  // gnuplot single-quoted string
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

struct Band {
    int epoch;
    double mean, sd, lo, hi;
};

// Test accuracy per epoch over the finished seed runs.
std::vector<Band> accuracy_band(const std::vector<RunResult>& seeds, int epochs) {
    std::vector<Band> out;
    for (int e = 1; e <= epochs; ++e) {
        std::vector<double> v;
        for (const RunResult& r : seeds)
            if (r.status == RunStatus::Done)
                for (const EpochRow& row : r.rows)
                    if (row.epoch == e) v.push_back(row.test_acc);
        if (v.empty()) continue;
        const MeanSd m = mean_sd(v);
        out.push_back({e, m.mean, m.sd, *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())});
    }
    return out;
}

// Runs gnuplot on `script` (which writes PNG); false with a note if it cannot.
bool run_gnuplot(const std::string& script_path, const std::string& script, const std::string& png,
                 std::vector<std::string>& notes) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        notes.push_back("gnuplot is not installed (make deps installs gnuplot-nox): " + png + " skipped");
        return false;
    }
    write_file_atomic(script_path, script);
    const std::string log = png + ".log";
    const int rc = std::system(("gnuplot '" + script_path + "' 2>'" + log + "'").c_str());
    if (rc != 0 || !file_exists(png + ".tmp")) {
        notes.push_back("gnuplot failed on " + script_path + " (see " + log + "): " + png + " skipped");
        return false;
    }
    std::remove(log.c_str());
    if (std::rename((png + ".tmp").c_str(), png.c_str()) != 0) {
        notes.push_back("cannot rename " + png + ".tmp");
        return false;
    }
    return true;
}

// Eleven colours that can be told apart (gnuplot's default cycle has eight), so
// every algorithm of the lecture gets its own.
const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                          "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000"};

std::string plot_header(const std::string& png, const std::string& title, const std::string& xlabel,
                        const std::string& ylabel) {
    std::string h = "set terminal pngcairo size 1000,560 noenhanced font 'sans,10'\n"
                    "set output " + quote(png + ".tmp") + "\n"
                    "set title " + quote(title) + "\nset xlabel " + quote(xlabel) + "\nset ylabel " + quote(ylabel) +
                    "\nset grid\nset key outside right top\n";
    for (int i = 0; i < 11; ++i)
        h += "set linetype " + std::to_string(i + 1) + " lc rgb '" + kColours[i] + "' lw 2\n";
    return h;
}

bool plot_accuracy(const StudyOptions& o, const std::vector<OptimizerResults>& results,
                   std::vector<std::string>& notes) {
    std::ostringstream data, plot;
    int block = 0;
    double lowest = 1.0, highest = 0.0;
    for (const OptimizerResults& r : results) {
        const std::vector<Band> band = accuracy_band(r.seeds, o.epochs);
        if (band.empty()) continue;
        data << "# " << r.optimizer << "\n";
        for (const Band& b : band) data << b.epoch << ' ' << b.mean << ' ' << b.lo << ' ' << b.hi << "\n";
        data << "\n\n";
        lowest = std::min(lowest, band.back().mean);
        highest = std::max(highest, band.back().hi);
        const std::string name = r.optimizer + " (lr " + lr_text(r.summary.best_lr) + ")";
        plot << (block ? ", \\\n  " : "") << "D index " << block
             << " using 1:3:4 with filledcurves fs transparent solid 0.12 noborder lt " << block % 11 + 1 << " notitle, "
             << "D index " << block << " using 1:2 with linespoints pt 7 ps 0.6 lt " << block % 11 + 1
             << " title " << quote(name);
        ++block;
    }
    if (block == 0) return false;
    const std::string dat = o.out + "/accuracy.dat", png = o.out + "/accuracy.png";
    write_file_atomic(dat, data.str());
    // Zoom on the finals: the best curves differ by fractions of a point, a
    // diverged one sits at 10%; the y range starts a little below the worst final mean.
    const double y0 = std::max(0.0, std::floor((lowest - 0.03) * 100) / 100);
    const double y1 = std::min(1.0, std::ceil((highest + 0.005) * 100) / 100);
    std::string script = plot_header(png, "test accuracy of each optimizer's best lr (band: min to max over seeds)",
                                     "epoch", "test accuracy") +
                         "D = " + quote(dat) + "\nset xrange [1:" + std::to_string(std::max(2, o.epochs)) + "]\n" +
                         "set xtics 1\n" +
                         "set yrange [" + fmt("%.2f", y0) + ":" + fmt("%.2f", y1) + "]\n" + "plot " + plot.str() + "\n";
    const bool ok = run_gnuplot(o.out + "/accuracy.gp", script, png, notes);
    return ok;
}

bool plot_tuning(const StudyOptions& o, const std::vector<OptimizerResults>& results,
                 std::vector<std::string>& notes) {
    std::ostringstream data, plot;
    int block = 0;
    std::string failed;
    for (const OptimizerResults& r : results) {
        std::ostringstream rows;
        for (const RunResult& t : r.tuning) {
            if (t.status == RunStatus::Done && std::isfinite(t.final_val()))
                rows << t.spec.lr << ' ' << t.final_val() << "\n";
            if (t.status == RunStatus::Failed) failed += lr_text(t.spec.lr) + " 0\n";
        }
        if (rows.str().empty()) continue;
        data << "# " << r.optimizer << "\n" << rows.str() << "\n\n";
        plot << (block ? ", \\\n  " : "") << "D index " << block << " using 1:2 with linespoints pt 7 lt "
             << block % 11 + 1 << " title " << quote(r.optimizer + ": " + step_size_name(r.optimizer));
        ++block;
    }
    if (block == 0) return false;
    if (!failed.empty()) {
        data << "# failed runs (diverged), drawn at 0\n" << failed << "\n\n";
        plot << ", \\\n  D index " << block << " using 1:2 with points pt 2 ps 1.5 lc rgb 'black' title 'failed (diverged)'";
    }
    const std::string dat = o.out + "/tuning.dat", png = o.out + "/tuning.png";
    write_file_atomic(dat, data.str());
    const std::string script =
        plot_header(png, "final validation accuracy against the learning rate (" + std::to_string(o.epochs) +
                             " epochs, seed " + std::to_string(o.seeds[0]) + ")",
                    "learning rate (each optimizer's own step size, log scale)", "validation accuracy") +
        "D = " + quote(dat) + "\nset logscale x\nset format x '%g'\nset yrange [0:1]\nplot " + plot.str() + "\n";
    return run_gnuplot(o.out + "/tuning.gp", script, png, notes);
}

std::string png_img(const std::string& path, const std::string& alt) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "";
    std::stringstream ss;
    ss << in.rdbuf();
    return "<img alt=\"" + html_escape(alt) + "\" src=\"data:image/png;base64," + base64(ss.str()) + "\">\n";
}

std::string markdown_to_html_table(const std::string& md) {
    std::istringstream in(md);
    std::string line, out = "<table>\n";
    int row = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] != '|') continue;
        if (line.find("---") != std::string::npos) continue;
        std::vector<std::string> cells;
        std::string cell;
        std::istringstream l(line.substr(1));
        while (std::getline(l, cell, '|')) cells.push_back(cell);
        if (!cells.empty() && cells.back().find_first_not_of(' ') == std::string::npos) cells.pop_back();
        out += "<tr>";
        for (const std::string& c : cells) out += (row == 0 ? "<th>" : "<td>") + html_escape(c) + (row == 0 ? "</th>" : "</td>");
        out += "</tr>\n";
        ++row;
    }
    return out + "</table>\n";
}

std::string grid_table_html(const std::vector<OptimizerResults>& results) {
    std::string h = "<table>\n<tr><th>optimizer</th><th>lr</th><th>status</th><th>final val acc</th>"
                    "<th>final test acc</th><th>note</th></tr>\n";
    for (const OptimizerResults& r : results)
        for (const RunResult& t : r.tuning) {
            const bool best = r.summary.tuned && t.spec.lr == r.summary.best_lr;
            h += std::string("<tr") + (best ? " class=\"best\"" : "") + "><td>" + html_escape(r.optimizer) + "</td><td>" +
                 lr_text(t.spec.lr) + "</td><td>" + status_text(t) + "</td><td>" + percent(t.final_val()) +
                 "</td><td>" + percent(t.final_test()) + "</td><td>" + html_escape(best ? "best" : t.error) +
                 "</td></tr>\n";
        }
    return h + "</table>\n";
}

}  // namespace

std::string base64(const std::string& bytes) {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                           static_cast<unsigned char>(bytes[i + 2]);
        out += {k[v >> 18], k[v >> 12 & 63], k[v >> 6 & 63], k[v & 63]};
    }
    if (i + 1 == bytes.size()) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        out += {k[v >> 18], k[v >> 12 & 63], '=', '='};
    } else if (i + 2 == bytes.size()) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8;
        out += {k[v >> 18], k[v >> 12 & 63], k[v >> 6 & 63], '='};
    }
    return out;
}

std::string table_markdown(const StudyOptions& o, const std::vector<OptimizerResults>& results) {
    std::string seeds;
    for (uint64_t s : o.seeds) seeds += (seeds.empty() ? "" : ",") + std::to_string(s);
    std::string md = "Model `" + o.model + "`, " + std::to_string(o.epochs) + (o.epochs == 1 ? " epoch" : " epochs") +
                     ", batch " +
                     std::to_string(o.batch_size) + ", seeds " + seeds + "; " +
                     (o.val_split > 0 ? "lr chosen by final accuracy on a " + fmt("%g", 100 * o.val_split) +
                                            "% validation split"
                                      : std::string("fixed lr, no validation split")) +
                     "; target test accuracy " + percent(o.target) + "%.";
    if (!o.train_args.empty()) {
        md += " build/train options:";
        for (const std::string& a : o.train_args) md += " `" + a + "`";
        md += ".";
    }
    md += "\n\n";
    md += "| optimizer | --lr is | best lr | grid | final test accuracy % (mean +- sd, seeds) "
          "| epochs to target (median) | seconds to target (median) | seeds reaching target |\n"
          "|---|---|---|---|---|---|---|---|\n";
    for (const OptimizerResults& r : results) {
        const Summary& s = r.summary;
        md += "| " + r.optimizer + " | " + step_size_name(r.optimizer) + " | " +
              (s.tuned ? lr_text(s.best_lr) + (s.best_at_edge ? " (grid edge)" : "") : "-") + " | " +
              grid_text(r.tuning) + (s.failed_grid_points ? ", " + std::to_string(s.failed_grid_points) + " failed" : "") +
              " | " + accuracy_cell(s) + " | " + (s.tuned ? median_cell(s.median_epochs, "%g") : "-") + " | " +
              (s.tuned ? median_cell(s.median_seconds, "%.1f") : "-") + " | " +
              (s.tuned ? std::to_string(s.reached) + "/" + std::to_string(s.seeds) : "-") + " |\n";
    }
    return md;
}

std::string table_csv(const std::vector<OptimizerResults>& results) {
    std::string csv = "optimizer,step_size,best_lr,best_at_grid_edge,grid_points,failed_grid_points,test_acc_mean,"
                      "test_acc_sd,seeds,median_epochs_to_target,median_seconds_to_target,seeds_reaching_target\n";
    for (const OptimizerResults& r : results) {
        const Summary& s = r.summary;
        csv += r.optimizer + "," + csv_text(step_size_name(r.optimizer)) + "," + (s.tuned ? lr_text(s.best_lr) : "") +
               "," + (s.best_at_edge ? "1" : "0") + "," + std::to_string(r.tuning.size()) + "," +
               std::to_string(s.failed_grid_points) + "," + (s.final_test.n ? csv_number(s.final_test.mean) : "") +
               "," + (s.final_test.n ? csv_number(s.final_test.sd) : "") + "," + std::to_string(s.seeds) + "," +
               csv_number(s.median_epochs) + "," + csv_number(s.median_seconds) + "," + std::to_string(s.reached) +
               "\n";
    }
    return csv;
}

std::string grid_csv(const std::vector<OptimizerResults>& results) {
    std::string csv = "optimizer,lr,status,final_val_acc,final_test_acc,error\n";
    for (const OptimizerResults& r : results)
        for (const RunResult& t : r.tuning)
            csv += r.optimizer + "," + lr_text(t.spec.lr) + "," + status_text(t) + "," + csv_number(t.final_val()) +
                   "," + csv_number(t.final_test()) + "," + csv_text(t.error) + "\n";
    return csv;
}

void write_outputs(const StudyOptions& o, const std::vector<OptimizerResults>& results, double seconds,
                   const std::string& command, std::vector<std::string>& notes) {
    for (const OptimizerResults& r : results) {
        if (r.summary.best_at_edge)
            notes.push_back(r.optimizer + ": the best lr " + lr_text(r.summary.best_lr) +
                            " is at the edge of its grid; a wider grid may find a better one");
        if (r.summary.tuned && r.summary.seeds < static_cast<int>(o.seeds.size()))
            notes.push_back(r.optimizer + ": " + std::to_string(o.seeds.size() - r.summary.seeds) +
                            " seed run(s) of the best lr did not finish (failed: see grid.csv and the run folders)");
    }
    const std::string md = table_markdown(o, results);
    write_file_atomic(o.out + "/table.md", md);
    write_file_atomic(o.out + "/table.csv", table_csv(results));
    write_file_atomic(o.out + "/grid.csv", grid_csv(results));
    std::string curves = "optimizer,lr,epoch,test_acc_mean,test_acc_sd,test_acc_min,test_acc_max,seeds\n";
    for (const OptimizerResults& r : results) {
        int n = 0;
        for (const RunResult& s : r.seeds) n += s.status == RunStatus::Done;
        for (const Band& b : accuracy_band(r.seeds, o.epochs))
            curves += r.optimizer + "," + lr_text(r.summary.best_lr) + "," + std::to_string(b.epoch) + "," +
                      csv_number(b.mean) + "," + csv_number(b.sd) + "," + csv_number(b.lo) + "," + csv_number(b.hi) +
                      "," + std::to_string(n) + "\n";
    }
    write_file_atomic(o.out + "/curves.csv", curves);
    const bool accuracy = plot_accuracy(o, results, notes);
    const bool tuning = plot_tuning(o, results, notes);

    std::string h = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>study: " + html_escape(o.model) +
                    "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
                    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;"
                    "text-align:left}tr.best{background:#e6f4e6}img{max-width:100%}code{background:#f2f2f2}"
                    "</style></head><body>\n";
    std::string header = md.substr(0, md.find('\n'));
    header.erase(std::remove(header.begin(), header.end(), '`'), header.end());
    h += "<h1>Optimizer study: " + html_escape(o.model) + "</h1>\n<p>" + html_escape(header) +
         "</p>\n<p>Wall time of the study: " + fmt("%.0f", seconds) + " s (" + std::to_string(o.jobs) + " runs at once, " +
         std::to_string(o.threads) + " thread(s) each).</p>\n";
    h += "<h2>Best setting of each optimizer</h2>\n" + markdown_to_html_table(md);
    h += "<p>Final test accuracy is the last epoch's; mean +- sample standard deviation over the seeds. Time to the "
         "target: the first epoch whose test accuracy reaches it, median over seeds, a seed that never reached it "
         "counting as infinitely slow.</p>\n";
    if (accuracy) h += "<h2>Test accuracy per epoch</h2>\n" + png_img(o.out + "/accuracy.png", "test accuracy per epoch");
    if (tuning) h += "<h2>Tuning curves</h2>\n" + png_img(o.out + "/tuning.png", "validation accuracy against lr");
    h += "<h2>Every tuning run</h2>\n" + grid_table_html(results);
    if (!notes.empty()) {
        h += "<h2>Notes</h2>\n<ul>\n";
        for (const std::string& n : notes) h += "<li>" + html_escape(n) + "</li>\n";
        h += "</ul>\n";
    }
    h += "<h2>Reproduce</h2>\n<p><code>" + html_escape(command) + "</code></p>\n</body></html>\n";
    write_file_atomic(o.out + "/report.html", h);
}

}  // namespace dl::study
