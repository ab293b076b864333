#include "layers/spec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "layers/layers.h"

namespace dl {

namespace {

// ---- tokens: words, numbers and commas, with where they start -------------------------------

struct Token {
    enum Type { Word, Number, Comma, End, Other } type = End;
    std::string text;
    double number = 0;
    int line = 1, column = 1;
};

bool is_word(const std::string& s) {
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

bool parse_number(const std::string& s, double& out) {
    if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.' || s[0] == '-' || s[0] == '+'))
        return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(out);
}

// A token is a comma or a run of characters up to a space, comma or '#'.
std::vector<Token> tokenize(const std::string& text) {
    std::vector<Token> tokens;
    int line = 1, column = 1;
    size_t i = 0;
    auto advance = [&](size_t n) {
        for (size_t k = 0; k < n; ++k, ++i) {
            if (text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
    };
    while (i < text.size()) {
        const char c = text[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            advance(1);
            continue;
        }
        if (c == '#') {
            while (i < text.size() && text[i] != '\n') advance(1);
            continue;
        }
        Token t;
        t.line = line;
        t.column = column;
        if (c == ',') {
            t.type = Token::Comma;
            t.text = ",";
            advance(1);
        } else {
            size_t j = i;
            while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j])) && text[j] != ',' &&
                   text[j] != '#')
                ++j;
            t.text = text.substr(i, j - i);
            advance(j - i);
            if (parse_number(t.text, t.number)) {
                t.type = Token::Number;
            } else if (is_word(t.text)) {
                t.type = Token::Word;
                for (char& ch : t.text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            } else {
                t.type = Token::Other;
            }
        }
        tokens.push_back(t);
    }
    Token end;
    end.line = line;
    end.column = column;
    tokens.push_back(end);
    return tokens;
}

std::string format_number(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

const char* const kLayerWords[] = {"conv",    "linear",  "maxpool", "avgpool",   "relu",      "leakyrelu", "tanh",
                                   "sigmoid", "flatten", "dropout", "batchnorm", "groupnorm", "layernorm"};

// The options each kind of layer takes after its arguments.
std::vector<std::string> options_of(const std::string& kind) {
    if (kind == "conv") return {"stride", "pad", "nobias", "weight", "bias"};
    if (kind == "linear") return {"nobias", "weight", "bias"};
    if (kind == "maxpool" || kind == "avgpool") return {"stride"};
    return {};
}

std::string join(const std::vector<std::string>& words, const std::string& sep) {
    std::string s;
    for (const std::string& w : words) s += (s.empty() ? "" : sep) + w;
    return s;
}

// ---- the parser: one item at a time, failing at the first token that does not fit ----------

class Parser {
public:
    Parser(const std::string& text, const std::string& origin)
        : origin_(origin), tokens_(tokenize(text)),
          multiline_(text.find('\n') != std::string::npos) {}

    Spec parse() {
        Spec spec;
        spec.origin = origin_;
        for (;;) {
            parse_item(spec);
            const Token& t = peek();
            if (t.type == Token::End) break;
            if (t.type != Token::Comma) {
                const std::vector<std::string> opts = spec.layers.empty() || last_was_init_
                                                          ? std::vector<std::string>{}
                                                          : options_of(spec.layers.back().kind);
                fail(t, "',' or the end of the spec" +
                            (opts.empty() ? std::string()
                                          : " (or an option of " + spec.layers.back().kind + ": " +
                                                join(opts, ", ") + ")"));
            }
            next();
        }
        if (init_pending_) throw std::invalid_argument(init_where_ + " applies to no layer: put it before the conv and "
                                                                    "linear layers it initialises");
        return spec;
    }

private:
    const Token& peek() const { return tokens_[pos_]; }
    const Token& next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

    std::string position(const Token& t) const {
        return multiline_ ? "line " + std::to_string(t.line) + ", column " + std::to_string(t.column)
                          : "column " + std::to_string(t.column);
    }
    static std::string describe(const Token& t) {
        if (t.type == Token::End) return "the end of the spec";
        return "'" + t.text + "'";
    }
    [[noreturn]] void fail(const Token& t, const std::string& expected) const {
        throw std::invalid_argument(origin_ + ", " + position(t) + ": found " + describe(t) + ", expected " + expected);
    }

    bool accept(const char* word) {
        if (peek().type != Token::Word || peek().text != word) return false;
        next();
        return true;
    }
    // An integer in [lo, hi]; the message reads "WHAT (an integer from LO to HI)" or, with a
    // closing text, "WHAT an integer from LO to HI CLOSE".
    int expect_int(const std::string& what, int lo, int hi, const std::string& close = "") {
        const Token& t = peek();
        const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
        if (t.type != Token::Number || t.number != std::floor(t.number) || t.number < lo || t.number > hi)
            fail(t, what + (close.empty() ? " (" + range + ")" : " " + range + close));
        next();
        return static_cast<int>(t.number);
    }
    float expect_number(const std::string& what) {
        const Token& t = peek();
        if (t.type != Token::Number) fail(t, what);
        next();
        return static_cast<float>(t.number);
    }

    // Tokens [first, pos_) joined by single spaces: the item as written, on one line.
    std::string item_text(size_t first) const {
        std::string s;
        for (size_t i = first; i < pos_; ++i) s += (s.empty() ? "" : " ") + tokens_[i].text;
        return s;
    }

    void parse_item(Spec& spec) {
        const size_t first_index = pos_;
        const Token& first = peek();
        last_was_init_ = false;
        if (accept("init")) {
            parse_init_item(first, first_index);
            last_was_init_ = true;
            return;
        }
        if (first.type != Token::Word ||
            std::find(std::begin(kLayerWords), std::end(kLayerWords), first.text) == std::end(kLayerWords))
            fail(first, "a layer (" + spec_layer_words() + ") or 'init'");
        next();
        SpecLayer l;
        l.kind = first.text;
        l.where = position(first);
        l.weight_init = init_weight_;
        l.bias_init = init_bias_;
        parse_arguments(l);
        parse_options(l);
        if (l.kind == "linear" && l.size == 0 && peek().type == Token::Comma)
            fail(tokens_[bare_linear_], "the number of outputs of linear (only the last layer may leave it out: it "
                                        "then has one output per class)");
        if (l.kind == "conv" || l.kind == "linear") init_pending_ = false;
        l.text = item_text(first_index);
        spec.layers.push_back(l);
    }

    void parse_arguments(SpecLayer& l) {
        const std::string& k = l.kind;
        if (k == "conv") {
            l.size = expect_int("the number of output channels of conv", 1, kMaxSize);
            l.kernel = expect_int("the kernel size of conv", 1, kMaxKernel);
        } else if (k == "linear") {
            bare_linear_ = pos_;
            if (peek().type == Token::Number) l.size = expect_int("the number of outputs of linear", 1, kMaxSize);
        } else if (k == "maxpool" || k == "avgpool") {
            l.size = expect_int("the window size of " + k, 1, kMaxKernel);
        } else if (k == "groupnorm") {
            l.size = expect_int("the number of groups of groupnorm", 1, kMaxSize);
        } else if (k == "dropout") {
            const Token& t = peek();
            l.value = expect_number("the dropout probability (a number from 0 to below 1)");
            if (!(l.value >= 0.0f && l.value < 1.0f)) fail(t, "the dropout probability (a number from 0 to below 1)");
        } else if (k == "leakyrelu") {
            l.value = peek().type == Token::Number ? expect_number("the slope of leakyrelu") : 0.01f;
        }
    }

    void parse_options(SpecLayer& l) {
        std::vector<std::string> seen;
        const std::vector<std::string> allowed = options_of(l.kind);
        while (peek().type == Token::Word &&
               std::find(allowed.begin(), allowed.end(), peek().text) != allowed.end()) {
            const Token& t = next();
            if (std::find(seen.begin(), seen.end(), t.text) != seen.end())
                fail(t, "each option of " + l.kind + " at most once");
            seen.push_back(t.text);
            const bool nobias = std::find(seen.begin(), seen.end(), "nobias") != seen.end();
            if (t.text == "bias" && nobias) fail(t, "no bias initialiser after 'nobias'");
            if (t.text == "nobias" && std::find(seen.begin(), seen.end(), "bias") != seen.end())
                fail(t, "no 'nobias' after a bias initialiser");
            if (t.text == "stride") {
                l.stride = expect_int("the stride of " + l.kind, 1, kMaxKernel);
            } else if (t.text == "pad") {
                if (accept("same")) l.pad_same = true;
                else l.pad = expect_int("the padding of conv ('same' or", 0, kMaxKernel, ")");
            } else if (t.text == "nobias") {
                l.bias = false;
            } else {
                (t.text == "weight" ? l.weight_init : l.bias_init) = parse_init(t.text);
            }
        }
    }

    // "init" role-init { role-init }: the default for the conv and linear layers after it.
    void parse_init_item(const Token& first, size_t first_index) {
        bool any = false;
        while (peek().type == Token::Word && (peek().text == "weight" || peek().text == "bias")) {
            const std::string role = next().text;
            (role == "weight" ? init_weight_ : init_bias_) = parse_init(role);
            any = true;
        }
        if (!any) fail(peek(), "'weight' or 'bias' after init");
        init_pending_ = true;
        init_where_ = origin_ + ", " + position(first) + ": '" + item_text(first_index) + "'";
    }

    Init parse_init(const std::string& role) {
        const Token& t = peek();
        if (t.type == Token::Word) {
            next();
            if (t.text == "default") return Init::pytorch_default();
            if (t.text == "zeros") return Init::zeros();
            struct Kind {
                const char* word;
                Init::Kind kind;
                const char* value;
            };
            const Kind kinds[] = {{"const", Init::Kind::Constant, "the value of const (a number)"},
                                  {"normal", Init::Kind::Normal, "the standard deviation of normal (a number > 0)"},
                                  {"truncnormal", Init::Kind::TruncatedNormal,
                                   "the standard deviation of truncnormal (a number > 0)"},
                                  {"uniform", Init::Kind::Uniform, "the bound of uniform (a number >= 0)"}};
            for (const Kind& k : kinds) {
                if (t.text != k.word) continue;
                const Token& v = peek();
                const float x = expect_number(k.value);
                try {
                    return Init::checked({k.kind, x});
                } catch (const std::invalid_argument&) {
                    fail(v, k.value);
                }
            }
        }
        fail(t, "an initialiser for the " + role +
                    " (default, zeros, const V, normal STD, truncnormal STD, uniform A)");
    }

    static constexpr int kMaxSize = 1 << 20;   // channels, units
    static constexpr int kMaxKernel = 1 << 12;  // kernels, strides, padding

    std::string origin_;
    std::vector<Token> tokens_;
    size_t pos_ = 0;
    bool multiline_;
    Init init_weight_, init_bias_;  // from the last init item
    bool init_pending_ = false;     // an init item not yet followed by a conv or linear
    bool last_was_init_ = false;
    std::string init_where_;
    size_t bare_linear_ = 0;        // the token after the word "linear"
};

// Layers whose training forward mixes the examples of a batch.
bool mixes_examples(const SpecLayer& l) { return l.kind == "batchnorm"; }

// ---- building: shapes from the data, layer by layer ----------------------------------------

// What flows between layers: an image (C, H, W) or a flat vector of `c` features.
struct Dims {
    bool image = true;
    int c = 0, h = 0, w = 0;
    long count() const { return image ? static_cast<long>(c) * h * w : c; }
    std::string str() const {
        return image ? "an image of " + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w)
                     : std::to_string(c) + " values";
    }
};

std::uint64_t seed64(std::mt19937& rng) {
    const std::uint64_t high = rng();
    return high << 32 | rng();
}

class Builder {
public:
    Builder(const Spec& spec, std::mt19937& rng) : spec_(spec), rng_(rng), model_(std::make_unique<Sequential>()) {}

    std::unique_ptr<Sequential> build(Dims in, int classes) {
        d_ = in;
        for (size_t i = 0; i < spec_.layers.size(); ++i) {
            index_ = i;
            add(spec_.layers[i], classes);
            if (d_.count() > kMaxValues)
                fail("its output would have " + std::to_string(d_.count()) + " values per example; at most " +
                     std::to_string(kMaxValues));
        }
        if (d_.image)
            throw std::invalid_argument(spec_.origin + ": the model ends with " + d_.str() + "; it must end with " +
                                        std::to_string(classes) + " values, one per class (end with 'flatten, linear')");
        if (d_.c != classes)
            throw std::invalid_argument(spec_.origin + ": the model ends with " + d_.str() + ", but the data has " +
                                        std::to_string(classes) +
                                        " classes (end with a bare 'linear': it has one output per class)");
        return std::move(model_);
    }

private:
    static constexpr long kMaxValues = 1L << 26;  // per example, after any layer (256 MB of floats)

    [[noreturn]] void fail(const std::string& what) const {
        const SpecLayer& l = spec_.layers[index_];
        throw std::invalid_argument(spec_.origin + ", " + l.where + " (layer " + std::to_string(index_) + ", '" +
                                    l.text + "'): " + what);
    }
    void need_image(const SpecLayer& l) const {
        if (!d_.image) fail("its input is " + d_.str() + "; " + l.kind + " takes an image (put it before 'flatten')");
    }
    void check_weights(long count) const {
        if (count > (1L << 28))
            fail("it would have " + std::to_string(count) + " weights; at most " + std::to_string(1L << 28) +
                 " per layer");
    }

    void add(const SpecLayer& l, int classes) {
        const std::string& k = l.kind;
        if (k == "conv") add_conv(l);
        else if (k == "linear") add_linear(l, classes);
        else if (k == "maxpool" || k == "avgpool") add_pool(l);
        else if (k == "flatten") {
            model_->add<Flatten>();
            d_ = Dims{false, static_cast<int>(d_.count()), 1, 1};
        } else if (k == "relu") model_->add<ReLU>();
        else if (k == "leakyrelu") model_->add<LeakyReLU>(l.value);
        else if (k == "tanh") model_->add<Tanh>();
        else if (k == "sigmoid") model_->add<Sigmoid>();
        else if (k == "dropout") model_->add<Dropout>(l.value, seed64(rng_));
        else if (k == "batchnorm") {
            if (d_.image) model_->add<BatchNorm2d>(d_.c);
            else model_->add<BatchNorm1d>(d_.c);
        } else if (k == "groupnorm") {
            if (d_.c % l.size != 0)
                fail("its input (" + d_.str() + ") has " + std::to_string(d_.c) + " channels, which do not split into " +
                     std::to_string(l.size) + " groups");
            model_->add<GroupNorm>(l.size, d_.c);
        } else if (k == "layernorm") {
            model_->add<LayerNorm>(d_.image ? Shape{d_.c, d_.h, d_.w} : Shape{d_.c});
        } else {
            fail("unknown layer kind");  // the parser admits only known words
        }
    }

    void add_conv(const SpecLayer& l) {
        need_image(l);
        const int stride = l.stride ? l.stride : 1;
        int pad = l.pad;
        if (l.pad_same) {
            if (l.kernel % 2 == 0 || stride != 1)
                fail("'pad same' needs an odd kernel and stride 1 (padding is the same on both sides here)");
            pad = (l.kernel - 1) / 2;
        }
        if (d_.h + 2 * pad < l.kernel || d_.w + 2 * pad < l.kernel)
            fail("its input (" + d_.str() + ", padded by " + std::to_string(pad) + ") is smaller than the " +
                 std::to_string(l.kernel) + "x" + std::to_string(l.kernel) + " kernel");
        check_weights(static_cast<long>(l.size) * d_.c * l.kernel * l.kernel);
        auto& conv = model_->add<Conv2d>(d_.c, l.size, l.kernel, stride, pad, rng_, l.bias);
        initialize_layer(conv.weight(), conv.bias(), l);
        d_ = Dims{true, l.size, (d_.h + 2 * pad - l.kernel) / stride + 1, (d_.w + 2 * pad - l.kernel) / stride + 1};
    }

    void add_linear(const SpecLayer& l, int classes) {
        if (d_.image)
            fail("its input is " + d_.str() + "; linear takes flat vectors (put 'flatten' before it)");
        const int out = l.size ? l.size : classes;
        check_weights(static_cast<long>(out) * d_.c);
        auto& linear = model_->add<Linear>(d_.c, out, rng_, l.bias);
        initialize_layer(linear.weight(), linear.bias(), l);
        d_ = Dims{false, out, 1, 1};
    }

    void add_pool(const SpecLayer& l) {
        need_image(l);
        const int stride = l.stride ? l.stride : l.size;
        if (d_.h < l.size || d_.w < l.size)
            fail("its input (" + d_.str() + ") is smaller than the " + std::to_string(l.size) + "x" +
                 std::to_string(l.size) + " window");
        if (l.kind == "maxpool") model_->add<MaxPool2d>(l.size, stride);
        else model_->add<AvgPool2d>(l.size, stride);
        d_ = Dims{true, d_.c, (d_.h - l.size) / stride + 1, (d_.w - l.size) / stride + 1};
    }

    // The layer's constructor drew PyTorch's default; other initialisers draw again.
    void initialize_layer(Parameter& weight, Parameter& bias, const SpecLayer& l) {
        const int fan_in = static_cast<int>(weight.size() / weight.value.dim(0));
        if (l.weight_init.kind != Init::Kind::PyTorchDefault) init_tensor(weight.value, l.weight_init, fan_in, rng_);
        if (l.bias && l.bias_init.kind != Init::Kind::PyTorchDefault) init_tensor(bias.value, l.bias_init, fan_in, rng_);
    }

    const Spec& spec_;
    std::mt19937& rng_;
    std::unique_ptr<Sequential> model_;
    Dims d_;
    size_t index_ = 0;
};

}  // namespace

Spec parse_spec(const std::string& text, const std::string& origin) { return Parser(text, origin).parse(); }

std::string spec_string(const Spec& spec) {
    std::string out;
    for (const SpecLayer& l : spec.layers) {
        std::string s = l.kind;
        const std::string& k = l.kind;
        if (k == "conv") s += " " + std::to_string(l.size) + " " + std::to_string(l.kernel);
        if ((k == "linear" && l.size) || k == "maxpool" || k == "avgpool" || k == "groupnorm")
            s += " " + std::to_string(l.size);
        if (k == "dropout" || k == "leakyrelu") s += " " + format_number(l.value);
        if (l.stride) s += " stride " + std::to_string(l.stride);
        if (l.pad_same) s += " pad same";
        else if (l.pad) s += " pad " + std::to_string(l.pad);
        if (k == "conv" || k == "linear") {
            if (!l.bias) s += " nobias";
            if (l.weight_init.kind != Init::Kind::PyTorchDefault) s += " weight " + l.weight_init.str();
            if (l.bias && l.bias_init.kind != Init::Kind::PyTorchDefault) s += " bias " + l.bias_init.str();
        }
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

std::unique_ptr<Sequential> build_model(const Spec& spec, int channels, int height, int width, int classes,
                                        std::mt19937& rng) {
    return Builder(spec, rng).build(Dims{true, channels, height, width}, classes);
}

void check_statistics_allowed(const Spec& spec) {
    for (size_t i = 0; i < spec.layers.size(); ++i)
        if (mixes_examples(spec.layers[i]))
            throw std::invalid_argument(
                "statistics: op 'batch_norm' mixes the examples of a batch, so per-example gradients are undefined "
                "(use eval mode for batch norm, or turn statistics off); the model has it at layer " +
                std::to_string(i) + " ('" + spec.layers[i].text + "')");
}

std::string spec_statistics_note() {
    std::vector<std::string> allow, refuse;
    for (const char* w : kLayerWords) {
        SpecLayer l;
        l.kind = w;
        (mixes_examples(l) ? refuse : allow).push_back(w);
    }
    return "Layers that allow them: " + join(allow, ", ") + "; not " + join(refuse, ", ") +
           " in training (it mixes the examples of a batch).";
}

std::string spec_layer_words() {
    std::string s;
    for (const char* w : kLayerWords) s += (s.empty() ? "" : ", ") + std::string(w);
    return s;
}

}  // namespace dl
