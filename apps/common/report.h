// What the programs show and write: a progress bar, CSV files, gnuplot
// pictures, one-line JSON, and files written atomically (a temporary then a
// rename, so an interrupted program never leaves a file that looks complete).
#pragma once
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace dl {

// Writes `content` to PATH.tmp, then renames it to PATH; on failure removes
// PATH.tmp and throws std::runtime_error (PATH is then unchanged).
void write_file_atomic(const std::string& path, const std::string& content);
// mkdir -p; throws std::runtime_error naming the path.
void make_dirs(const std::string& path);
bool file_exists(const std::string& path);

// One-line JSON object, keys in insertion order.
class JsonLine {
public:
    JsonLine& add(const std::string& key, const std::string& value);
    JsonLine& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
    JsonLine& add(const std::string& key, double value, int precision = 6);
    JsonLine& add(const std::string& key, long value);
    JsonLine& add(const std::string& key, int value) { return add(key, static_cast<long>(value)); }
    JsonLine& add(const std::string& key, bool value);
    std::string str() const { return "{" + body_ + "}"; }
private:
    void key(const std::string& k);
    std::string body_;
};
std::string json_escape(const std::string& s);

// A CSV file: optional "# " comment lines, a header, then rows; each row is
// flushed so that a crash keeps the rows so far. A failed write (disk full)
// throws std::runtime_error naming the file.
class CsvWriter {
public:
    // append = true keeps an existing file with the same comment and header (used by
    // --resume); keep_rows >= 0 then keeps only its first keep_rows complete rows
    // (rows a killed run logged after its last checkpoint), rewritten atomically.
    CsvWriter(const std::string& path, const std::vector<std::string>& header, bool append = false,
              const std::string& comment = "", long keep_rows = -1);
    ~CsvWriter();
    CsvWriter(const CsvWriter&) = delete;
    CsvWriter& operator=(const CsvWriter&) = delete;
    void row(const std::vector<double>& values);
    const std::string& path() const { return path_; }
private:
    std::string path_;
    std::FILE* f_ = nullptr;
    size_t columns_;
};

// A progress bar on stderr while an epoch runs: batch/total, examples/s,
// running loss, ETA. Draws only when stderr is a terminal.
class ProgressBar {
public:
    ProgressBar(std::string label, int total);
    void update(int done, long examples, double running_loss);
    void finish();  // clears the bar
    static bool stderr_is_tty();
private:
    std::string label_;
    int total_;
    bool tty_;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

// One panel of a picture: columns of a CSV (by header name) against an x column.
struct PlotPanel {
    std::string title, xlabel, ylabel;
    std::string x;                   // x column
    std::vector<std::string> ys;     // y columns, one line each
    bool logx = false, logy = false;
    std::string style = "lines";     // "lines", "points", "linespoints", "boxes"
};

// Draws the panels side by side into PNG with gnuplot. Returns false and sets
// `note` when gnuplot is missing or fails (the caller prints the note).
bool plot_csv(const std::string& csv, const std::string& png, const std::vector<PlotPanel>& panels,
              std::string& note);

}  // namespace dl
