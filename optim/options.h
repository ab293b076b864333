// Options by name: what an algorithm (or a schedule) can be told, declared once
// beside the algorithm, and the name=value settings a user gives it.
//
// An algorithm keeps its options in a plain struct with defaults (MomentumOptions).
// Its .cpp lists the fields once in an OptionTable, with a range and a line of help:
//
//   const OptionTable<MomentumOptions>& momentum_options() {
//       static const OptionTable<MomentumOptions> table{
//           option("lr", &MomentumOptions::lr, "learning rate eta", at_least(0)),
//           time_constant("n_g", &MomentumOptions::n_g, "momentum", "time constant N_g of the velocity"),
//           option("nesterov", &MomentumOptions::nesterov, "look ahead along the velocity")};
//       return table;
//   }
//
// From that one list come the defaults shown by --help (read from the struct, so
// they live in one place), the range checks (the constructor calls validate), the
// parsing of "n_g=100" from a command line, and the settings in effect as text.
// This is torch.optim's `defaults` dict, typed: nothing outside the algorithm's
// files lists its options.
//
// Time constants and decay factors (lecture: "Digression on Running Averages"):
// the lecture writes a running average with its time constant N, PyTorch and
// TensorFlow with the factor beta it keeps each step (momentum 0.9, beta1 0.9,
// beta2 0.999, RMSprop's alpha 0.99):
//
//     beta = 1 - 1/N        N = 1/(1 - beta)        (beta = 0.9 <-> N = 10)
//
// A time_constant option also accepts its decay form by a second name
// ("momentum=0.9" is "n_g=10"); the conversion is time_constant_from_decay, the
// one place it happens. Giving both forms of one quantity is an error.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace dl {

// What kind of value an option holds (and how its text is parsed).
enum class OptionType {
    Real,         // float, e.g. "0.01", "1e-8"
    Integer,      // int, e.g. "10"
    Unsigned,     // uint64_t, e.g. a seed
    Boolean,      // "true"/"false" (also 1/0, yes/no, on/off)
    IntegerList,  // std::vector<int>, e.g. "5,10" ("" is the empty list)
};
const char* option_type_name(OptionType type);  // "a number", "an integer", ...

// Who may give an option a value besides the user.
enum class OptionRole {
    User,       // the user (or the default)
    Seed,       // a program fills it from its own --seed unless the user set it
    BatchSize,  // a program fills it with the training batch size unless the user set it
};

// The allowed values of a number: lo <= x (lo < x if lo_open) and x < hi (x <= hi
// if !hi_open). The default allows every finite number. For an IntegerList it
// applies to each element.
struct Range {
    double lo = -INFINITY;
    bool lo_open = true;
    double hi = INFINITY;
    bool hi_open = true;

    bool contains(double x) const;             // false for NaN
    std::string describe(const std::string& name) const;  // "1 <= n_g < inf"
};
Range at_least(double lo);                    // lo <= x < inf
Range above(double lo);                       // lo < x < inf
Range between(double lo, double hi);          // lo <= x <= hi
Range above_up_to(double lo, double hi);      // lo < x <= hi

// One option as the registry, --help and a command line see it.
struct OptionSpec {
    std::string name;          // "n_g"
    OptionType type = OptionType::Real;
    std::string default_text;  // "10"
    Range range;               // Real, Integer, IntegerList
    std::string help;          // one line, without the range or the default
    std::string decay_name;    // a time constant's decay form ("momentum"), or empty
    OptionRole role = OptionRole::User;
    std::string flag;          // a second command-line spelling beside --name-with-dashes, kept
                               // from older command lines ("--momentum-n" beside "--n-g"), or empty

    // What a valid value looks like: "1 <= n_g < inf, momentum = 1 - 1/n_g", "true or false".
    std::string expected() const;
};

// N = 1/(1 - beta), computed in double and rounded to float once, so that the
// usual factors give round time constants (0.9 -> 10, 0.99 -> 100, 0.999 -> 1000).
// Throws std::invalid_argument unless 0 <= beta < 1.
float time_constant_from_decay(double beta, const std::string& who, const OptionSpec& option);

// Text of numbers as the registry prints them: the shortest text that reads back
// to the same float ("0.01", "1e-08"), so printed settings reproduce a run.
std::string format_real(float value);
std::string format_number(double value);  // shortest text of a double

// The values a user gave, by option name, kept as text until an algorithm's
// options parse them ("lr" -> "0.05"). Built in code,
//     OptionValues v{{"lr", 0.05f}, {"n_g", 100}};
// or from "name=value" words of a command line (set_assignment). Setting a
// name again replaces its value.
class OptionValues {
public:
    // A value as text: numbers are written so that they read back bit for bit.
    struct Value {
        Value(float v);
        Value(double v);
        Value(int v);
        Value(unsigned v);
        Value(long v);
        Value(long long v);
        Value(unsigned long v);
        Value(unsigned long long v);
        Value(bool v);
        Value(const char* v);
        Value(std::string v);
        std::string text;
    };

    OptionValues() = default;
    OptionValues(std::initializer_list<std::pair<const std::string, Value>> values);

    OptionValues& set(const std::string& name, const Value& value);
    // "n_g=100": throws std::invalid_argument (naming the word) without '=' or a name.
    OptionValues& set_assignment(const std::string& name_equals_value);
    void erase(const std::string& name);

    bool has(const std::string& name) const { return values_.count(name) > 0; }
    const std::string& text(const std::string& name) const;  // throws if absent
    bool empty() const { return values_.empty(); }
    const std::map<std::string, std::string>& all() const { return values_; }
    std::string str() const;  // "lr=0.05 n_g=100", sorted by name

private:
    std::map<std::string, std::string> values_;
};

// Checks `values` against the options of `who` and returns them with every
// decay form converted to its time constant. Throws std::invalid_argument for a
// name that is not an option (listing the options), both forms of one quantity,
// or a value that does not parse as its type. Ranges are checked later, on the
// options struct (OptionTable::validate), so that they are checked once.
OptionValues resolve_options(const std::vector<OptionSpec>& options, const OptionValues& values,
                             const std::string& who, const std::string& caller);

// The help lines of a list of options, one per option:
//   "    n_g=10  time constant N_g of the velocity (1 <= n_g < inf); or momentum = 1 - 1/N_g"
std::string describe_options(const std::vector<OptionSpec>& options);

// ---- Parsing and printing one value (used by OptionTable) ----------------------

// Each parses the whole text or throws std::invalid_argument
//   "Invalid <option> for <who>: '<text>' (expected <kind>)".
float parse_real(const std::string& text, const std::string& who, const std::string& option);
int parse_integer(const std::string& text, const std::string& who, const std::string& option);
uint64_t parse_unsigned(const std::string& text, const std::string& who, const std::string& option);
bool parse_boolean(const std::string& text, const std::string& who, const std::string& option);
std::vector<int> parse_integer_list(const std::string& text, const std::string& who, const std::string& option);

// Throws std::invalid_argument "Invalid <option> for <who>: <value> (expected <range>)"
// unless the range contains value.
void check_range(const OptionSpec& option, double value, const std::string& who);

namespace detail {

template <class T> struct OptionKind;
template <> struct OptionKind<float> {
    static constexpr OptionType type = OptionType::Real;
    static float parse(const std::string& t, const std::string& w, const std::string& o) { return parse_real(t, w, o); }
    static std::string show(float v) { return format_real(v); }
    static std::vector<double> numbers(float v) { return {v}; }
};
template <> struct OptionKind<int> {
    static constexpr OptionType type = OptionType::Integer;
    static int parse(const std::string& t, const std::string& w, const std::string& o) { return parse_integer(t, w, o); }
    static std::string show(int v) { return std::to_string(v); }
    static std::vector<double> numbers(int v) { return {static_cast<double>(v)}; }
};
template <> struct OptionKind<uint64_t> {
    static constexpr OptionType type = OptionType::Unsigned;
    static uint64_t parse(const std::string& t, const std::string& w, const std::string& o) { return parse_unsigned(t, w, o); }
    static std::string show(uint64_t v) { return std::to_string(v); }
    static std::vector<double> numbers(uint64_t) { return {}; }
};
template <> struct OptionKind<bool> {
    static constexpr OptionType type = OptionType::Boolean;
    static bool parse(const std::string& t, const std::string& w, const std::string& o) { return parse_boolean(t, w, o); }
    static std::string show(bool v) { return v ? "true" : "false"; }
    static std::vector<double> numbers(bool) { return {}; }
};
template <> struct OptionKind<std::vector<int>> {
    static constexpr OptionType type = OptionType::IntegerList;
    static std::vector<int> parse(const std::string& t, const std::string& w, const std::string& o) {
        return parse_integer_list(t, w, o);
    }
    static std::string show(const std::vector<int>& v);
    static std::vector<double> numbers(const std::vector<int>& v) { return {v.begin(), v.end()}; }
};

}  // namespace detail

// ---- One field of an options struct, and the table of them --------------------

// How the registry reads and writes one field of an Options struct.
template <class Options>
struct OptionField {
    OptionSpec spec;  // default_text is filled in by the table from a default struct
    std::function<void(Options&, const std::string& text, const std::string& who)> parse;
    std::function<std::string(const Options&)> show;
    std::function<std::vector<double>(const Options&)> numbers;  // for the range check

    // Modifiers, for use inside a table's braces.
    OptionField decay_form(std::string name) && { spec.decay_name = std::move(name); return std::move(*this); }
    OptionField filled_by(OptionRole role) && { spec.role = role; return std::move(*this); }
    OptionField also_flag(std::string flag) && { spec.flag = std::move(flag); return std::move(*this); }
};

// option("lr", &SGDOptions::lr, "learning rate eta", at_least(0)): a field of type
// float, int, uint64_t, bool or std::vector<int>.
template <class Options, class T>
OptionField<Options> option(std::string name, T Options::*field, std::string help, Range range = {}) {
    using Kind = detail::OptionKind<T>;
    OptionField<Options> f;
    f.spec.name = std::move(name);
    f.spec.type = Kind::type;
    f.spec.range = range;
    f.spec.help = std::move(help);
    f.parse = [field, name = f.spec.name](Options& o, const std::string& text, const std::string& who) {
        o.*field = Kind::parse(text, who, name);
    };
    f.show = [field](const Options& o) { return Kind::show(o.*field); };
    f.numbers = [field](const Options& o) { return Kind::numbers(o.*field); };
    return f;
}

// A running average's time constant N >= 1 that also takes its decay factor
// beta = 1 - 1/N under `decay_name` (PyTorch's "momentum", Adam's "beta1", ...).
template <class Options>
OptionField<Options> time_constant(std::string name, float Options::*field, std::string decay_name,
                                   std::string help) {
    return option(std::move(name), field, std::move(help), at_least(1)).decay_form(std::move(decay_name));
}

// The options of one algorithm (or schedule), in the order --help shows them.
template <class Options>
class OptionTable {
public:
    OptionTable(std::initializer_list<OptionField<Options>> fields) : fields_(fields) {}
    explicit OptionTable(std::vector<OptionField<Options>> fields) : fields_(std::move(fields)) {}

    // The options with their defaults read from `defaults`.
    std::vector<OptionSpec> specs(const Options& defaults = Options{}) const {
        std::vector<OptionSpec> out;
        for (const auto& f : fields_) {
            out.push_back(f.spec);
            out.back().default_text = f.show(defaults);
        }
        return out;
    }

    // The table of just these options (a schedule uses a few fields of a shared struct).
    OptionTable subset(const std::vector<std::string>& names) const {
        std::vector<OptionField<Options>> out;
        for (const std::string& n : names) out.push_back(field(n));
        return OptionTable(std::move(out));
    }

    // Writes resolved values (see resolve_options) into o.
    void apply(Options& o, const OptionValues& values, const std::string& who) const {
        for (const auto& [name, text] : values.all()) field(name).parse(o, text, who);
    }

    // Throws std::invalid_argument for the first field outside its range.
    void validate(const Options& o, const std::string& who) const {
        for (const auto& f : fields_)
            for (double x : f.numbers(o)) check_range(f.spec, x, who);
    }

    // "lr=0.01 n_g=10 nesterov=false": every field of o.
    std::string show(const Options& o) const {
        std::string s;
        for (const auto& f : fields_) s += (s.empty() ? "" : " ") + f.spec.name + "=" + f.show(o);
        return s;
    }

    const OptionField<Options>& field(const std::string& name) const {
        for (const auto& f : fields_)
            if (f.spec.name == name) return f;
        throw std::invalid_argument("OptionTable: no option '" + name + "'");
    }

private:
    std::vector<OptionField<Options>> fields_;
};

}  // namespace dl
