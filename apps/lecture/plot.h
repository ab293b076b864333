// Pictures of the lecture's experiments: tables written as CSV and drawn with
// gnuplot, with the conventions a reader needs to trust a plot:
// - measured data is solid (lines with points); a fit, an exact curve or a
//   prediction is dashed and drawn underneath, so it never hides a measurement;
// - a measured series and its prediction share a colour (Series::color);
// - the legend sits below the panel, off the data;
// - ticks print as %g (no "10.000000"), x values can be rescaled for the axis
//   (examples in thousands), and log axes are asked for per panel;
// - a confidence band (Style::Band, columns lo and hi) is shaded under its mean;
// - vertical markers (B*, a milestone) are dotted lines with a label.
#pragma once
#include <cmath>
#include <string>
#include <vector>

namespace dl::lecture {

struct Result;
struct Settings;

// A table in memory, written as OUT/NAME.csv (name "") or OUT/NAME-name.csv.
struct Table {
    std::string name;
    std::vector<std::string> header;
    std::vector<std::vector<double>> rows;
    void add(std::vector<double> row) { rows.push_back(std::move(row)); }
};

enum class Style {
    Measured,      // solid line with points
    MeasuredLine,  // solid line (dense measured curves)
    Points,        // points only
    Predicted,     // dashed line: a prediction, exact curve or fit
    Band,          // shaded between columns lo and hi (a confidence interval); y unused
    ErrorBars,     // points with vertical bars from lo to hi, joined by a line
    Boxes,         // histogram
};

struct Series {
    std::string y;      // column of the panel's table
    std::string title;  // legend entry ("" hides it)
    Style style = Style::Measured;
    int color = -1;     // index into the palette; -1: the series' position in the panel
    std::string lo, hi; // Band, ErrorBars

    Series(std::string y_, std::string title_, Style style_ = Style::Measured, int color_ = -1, std::string lo_ = "",
           std::string hi_ = "")
        : y(std::move(y_)), title(std::move(title_)), style(style_), color(color_), lo(std::move(lo_)),
          hi(std::move(hi_)) {}
};

struct Marker {
    double x;           // in the axis' units (after x_scale)
    std::string label;
    double label_y = 0.95;  // height of the label, as a fraction of the panel
};

struct Panel {
    std::string title, xlabel, ylabel;
    std::string x;              // x column
    std::vector<Series> series;
    int table = 0;              // index into the tables given to save_figure
    double x_scale = 1.0;       // the axis shows x * x_scale
    bool logx = false, logy = false;
    double xmin = NAN, xmax = NAN, ymin = NAN, ymax = NAN;  // NAN: gnuplot chooses
    std::vector<Marker> markers;
    double xtics = NAN;         // distance between x ticks; NAN: gnuplot chooses
    std::vector<double> xtic_list;  // explicit x ticks (log axes spanning less than two decades)

    Panel(std::string title_, std::string xlabel_, std::string ylabel_, std::string x_, std::vector<Series> series_,
          int table_ = 0, double x_scale_ = 1.0, bool logx_ = false, bool logy_ = false, double xmin_ = NAN,
          double xmax_ = NAN, double ymin_ = NAN, double ymax_ = NAN, std::vector<Marker> markers_ = {},
          double xtics_ = NAN)
        : title(std::move(title_)), xlabel(std::move(xlabel_)), ylabel(std::move(ylabel_)), x(std::move(x_)),
          series(std::move(series_)), table(table_), x_scale(x_scale_), logx(logx_), logy(logy_), xmin(xmin_),
          xmax(xmax_), ymin(ymin_), ymax(ymax_), markers(std::move(markers_)), xtics(xtics_) {}
};

// Writes every table (the first is OUT/NAME.csv) and draws the panels side by
// side into OUT/NAME.png. Fills result.csv (the first table), result.png and,
// when gnuplot is missing or fails, result.note.
void save_figure(Result& result, const Settings& s, const std::vector<Table>& tables,
                 const std::vector<Panel>& panels);

// The gnuplot script save_figure runs (exposed for the tests); csv_paths[k] holds tables[k].
std::string gnuplot_script(const std::vector<Table>& tables, const std::vector<std::string>& csv_paths,
                           const std::string& png, const std::vector<Panel>& panels);

// Ticks for a log axis from lo to hi: none (gnuplot's decades) when the range
// spans two decades or more, else 1, 2, 5 (or every digit) times powers of 10.
std::vector<double> log_ticks(double lo, double hi);

}  // namespace dl::lecture
