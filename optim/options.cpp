#include "optim/options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>

namespace dl {

namespace {

[[noreturn]] void bad_text(const std::string& text, const std::string& who, const std::string& option,
                           const char* expected) {
    throw std::invalid_argument("Invalid " + option + " for " + who + ": '" + text + "' (expected " + expected +
                                ")");
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The whole text as a number (strtold, as CLI11 reads floats), or throws.
long double parse_long_double(const std::string& text, const std::string& who, const std::string& option) {
    char* end = nullptr;
    const long double v = text.empty() ? 0.0L : std::strtold(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) bad_text(text, who, option, "a number");
    return v;
}

const OptionSpec* find_spec(const std::vector<OptionSpec>& options, const std::string& name) {
    for (const OptionSpec& o : options)
        if (o.name == name) return &o;
    return nullptr;
}

const OptionSpec* find_decay(const std::vector<OptionSpec>& options, const std::string& name) {
    for (const OptionSpec& o : options)
        if (!o.decay_name.empty() && o.decay_name == name) return &o;
    return nullptr;
}

// "lr, n_g (or momentum), nesterov"
std::string option_list(const std::vector<OptionSpec>& options) {
    std::string s;
    for (const OptionSpec& o : options) {
        s += (s.empty() ? "" : ", ") + o.name;
        if (!o.decay_name.empty()) s += " (or " + o.decay_name + ")";
    }
    return s.empty() ? "no options" : s;
}

}  // namespace

const char* option_type_name(OptionType type) {
    switch (type) {
        case OptionType::Real: return "a number";
        case OptionType::Integer: return "an integer";
        case OptionType::Unsigned: return "an unsigned integer";
        case OptionType::Boolean: return "true or false";
        case OptionType::IntegerList: return "integers separated by commas";
    }
    return "a value";
}

bool Range::contains(double x) const {
    if (std::isnan(x)) return false;
    const bool above_lo = lo_open ? x > lo : x >= lo;
    const bool below_hi = hi_open ? x < hi : x <= hi;
    return above_lo && below_hi;
}

std::string Range::describe(const std::string& name) const {
    return format_number(lo) + (lo_open ? " < " : " <= ") + name + (hi_open ? " < " : " <= ") + format_number(hi);
}

Range at_least(double lo) { return {lo, false, INFINITY, true}; }
Range above(double lo) { return {lo, true, INFINITY, true}; }
Range between(double lo, double hi) { return {lo, false, hi, false}; }
Range above_up_to(double lo, double hi) { return {lo, true, hi, false}; }

std::string OptionSpec::expected() const {
    switch (type) {
        case OptionType::Real:
        case OptionType::Integer:
            return range.describe(name) + (decay_name.empty() ? "" : ", " + decay_name + " = 1 - 1/" + name);
        case OptionType::IntegerList: return "each " + range.describe(name);
        case OptionType::Unsigned:
        case OptionType::Boolean: return option_type_name(type);
    }
    return "";
}

float time_constant_from_decay(double beta, const std::string& who, const OptionSpec& option) {
    if (!(beta >= 0.0 && beta < 1.0))
        throw std::invalid_argument("Invalid " + option.decay_name + " for " + who + ": " + format_number(beta) +
                                    " (expected 0 <= " + option.decay_name + " < 1, " + option.name + " = 1/(1 - " +
                                    option.decay_name + "))");
    return static_cast<float>(1.0 / (1.0 - beta));
}

std::string format_real(float value) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, r.ptr);
}

std::string format_number(double value) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, r.ptr);
}

// ---- OptionValues -------------------------------------------------------------

OptionValues::Value::Value(float v) : text(format_real(v)) {}
OptionValues::Value::Value(double v) : text(format_number(v)) {}
OptionValues::Value::Value(int v) : text(std::to_string(v)) {}
OptionValues::Value::Value(unsigned v) : text(std::to_string(v)) {}
OptionValues::Value::Value(long v) : text(std::to_string(v)) {}
OptionValues::Value::Value(long long v) : text(std::to_string(v)) {}
OptionValues::Value::Value(unsigned long v) : text(std::to_string(v)) {}
OptionValues::Value::Value(unsigned long long v) : text(std::to_string(v)) {}
OptionValues::Value::Value(bool v) : text(v ? "true" : "false") {}
OptionValues::Value::Value(const char* v) : text(v) {}
OptionValues::Value::Value(std::string v) : text(std::move(v)) {}

OptionValues::OptionValues(std::initializer_list<std::pair<const std::string, Value>> values) {
    for (const auto& [name, value] : values) set(name, value);
}

OptionValues& OptionValues::set(const std::string& name, const Value& value) {
    if (name.empty()) throw std::invalid_argument("OptionValues: an option needs a name");
    values_[name] = value.text;
    return *this;
}

OptionValues& OptionValues::set_assignment(const std::string& word) {
    const size_t eq = word.find('=');
    if (eq == std::string::npos || eq == 0)
        throw std::invalid_argument("option '" + word + "': expected name=value, e.g. n_g=100");
    return set(word.substr(0, eq), word.substr(eq + 1));
}

void OptionValues::erase(const std::string& name) { values_.erase(name); }

const std::string& OptionValues::text(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) throw std::invalid_argument("OptionValues: no value for '" + name + "'");
    return it->second;
}

std::string OptionValues::str() const {
    std::string s;
    for (const auto& [name, text] : values_) s += (s.empty() ? "" : " ") + name + "=" + text;
    return s;
}

// ---- Checking values against an algorithm's options ----------------------------

namespace {

// Throws if `text` does not parse as the option's type.
void check_parses(const OptionSpec& o, const std::string& text, const std::string& who) {
    switch (o.type) {
        case OptionType::Real: parse_real(text, who, o.name); break;
        case OptionType::Integer: parse_integer(text, who, o.name); break;
        case OptionType::Unsigned: parse_unsigned(text, who, o.name); break;
        case OptionType::Boolean: parse_boolean(text, who, o.name); break;
        case OptionType::IntegerList: parse_integer_list(text, who, o.name); break;
    }
}

}  // namespace

OptionValues resolve_options(const std::vector<OptionSpec>& options, const OptionValues& values,
                             const std::string& who, const std::string& caller) {
    OptionValues out;
    for (const auto& [name, text] : values.all()) {
        if (const OptionSpec* o = find_spec(options, name)) {
            check_parses(*o, text, who);
            out.set(name, text);
            continue;
        }
        const OptionSpec* o = find_decay(options, name);
        if (!o)
            throw std::invalid_argument(caller + ": option '" + name + "' is not used by '" + who + "' (it takes: " +
                                        option_list(options) + ")");
        if (values.has(o->name))
            throw std::invalid_argument(caller + ": " + o->name + " and " + name + " are the same quantity (" + name +
                                        " = 1 - 1/" + o->name + "); give one of them for '" + who + "'");
        const double beta = static_cast<double>(parse_long_double(text, who, name));
        out.set(o->name, time_constant_from_decay(beta, who, *o));
    }
    return out;
}

std::string describe_options(const std::vector<OptionSpec>& options) {
    size_t width = 0;
    for (const OptionSpec& o : options) width = std::max(width, o.name.size() + 1 + o.default_text.size());
    std::string s;
    for (const OptionSpec& o : options) {
        std::string head = o.name + "=" + o.default_text;
        head.resize(width, ' ');
        const bool number = o.type == OptionType::Real || o.type == OptionType::Integer;
        s += "    " + head + "  " + o.help + " (" + (number ? o.range.describe(o.name) : o.expected()) + ")";
        if (!o.decay_name.empty()) s += "; or " + o.decay_name + " = 1 - 1/" + o.name + " in [0, 1)";
        if (o.role == OptionRole::Seed) s += "; a program sets it from its --seed";
        if (o.role == OptionRole::BatchSize) s += "; a program sets it to the batch size";
        s += "\n";
    }
    return s;
}

// ---- Parsing one value ---------------------------------------------------------

// Read as CLI11 reads a float (strtold, then rounded to float), so that a value
// given on the command line gives the same bits as before the registry parsed it.
float parse_real(const std::string& text, const std::string& who, const std::string& option) {
    return static_cast<float>(parse_long_double(text, who, option));
}

int parse_integer(const std::string& text, const std::string& who, const std::string& option) {
    char* end = nullptr;
    errno = 0;
    const long long v = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || v < INT_MIN || v > INT_MAX)
        bad_text(text, who, option, "an integer");
    return static_cast<int>(v);
}

uint64_t parse_unsigned(const std::string& text, const std::string& who, const std::string& option) {
    char* end = nullptr;
    errno = 0;
    const bool digits = !text.empty() && std::isdigit(static_cast<unsigned char>(text[0]));
    const unsigned long long v = digits ? std::strtoull(text.c_str(), &end, 10) : 0;
    if (!digits || end != text.c_str() + text.size() || errno == ERANGE)
        bad_text(text, who, option, "an unsigned integer");
    return static_cast<uint64_t>(v);
}

bool parse_boolean(const std::string& text, const std::string& who, const std::string& option) {
    const std::string t = lower(text);
    if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "0" || t == "no" || t == "off") return false;
    bad_text(text, who, option, "true or false");
}

std::vector<int> parse_integer_list(const std::string& text, const std::string& who, const std::string& option) {
    std::vector<int> out;
    if (text.empty()) return out;
    size_t begin = 0;
    while (true) {
        const size_t comma = text.find(',', begin);
        const std::string item = text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
        char* end = nullptr;
        errno = 0;
        const long long v = item.empty() ? 0 : std::strtoll(item.c_str(), &end, 10);
        if (item.empty() || end != item.c_str() + item.size() || errno == ERANGE || v < INT_MIN || v > INT_MAX)
            bad_text(text, who, option, "integers separated by commas, e.g. 5,10");
        out.push_back(static_cast<int>(v));
        if (comma == std::string::npos) return out;
        begin = comma + 1;
    }
}

void check_range(const OptionSpec& option, double value, const std::string& who) {
    if (option.range.contains(value)) return;
    // A float option's value prints as the float it is ("0.9", not "0.89999997615814209").
    const bool is_float = static_cast<double>(static_cast<float>(value)) == value || std::isnan(value);
    throw std::invalid_argument("Invalid " + option.name + " for " + who + ": " +
                                (is_float ? format_real(static_cast<float>(value)) : format_number(value)) +
                                " (expected " + option.expected() + ")");
}

namespace detail {

std::string OptionKind<std::vector<int>>::show(const std::vector<int>& v) {
    std::string s;
    for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
    return s;
}

}  // namespace detail

}  // namespace dl
