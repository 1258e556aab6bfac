#include "datasets/text_corpus.h"

#include <algorithm>
#include <cctype>

#include "datasets/file_io.h"

namespace autonet::data {

int64_t Dictionary::add(const std::string& word) {
  auto [it, inserted] = ids_.try_emplace(word, size());
  if (inserted) words_.push_back(word);
  return it->second;
}

int64_t Dictionary::id(const std::string& word) const {
  auto it = ids_.find(word);
  AN_CHECK(it != ids_.end()) << "word '" << word << "' is not in the vocabulary";
  return it->second;
}

const std::string& Dictionary::word(int64_t id) const {
  AN_CHECK(id >= 0 && id < size()) << "word id " << id << " out of range [0, " << size() << ")";
  return words_[id];
}

namespace {

// RFC 3629's well-formed sequences by lead byte: their length and the range of their second
// byte (later bytes are 0x80..0xBF). This leaves out overlong forms, surrogates and code points
// above U+10FFFF.
struct Utf8Lead {
  unsigned char first, last;  // lead bytes
  size_t length;
  unsigned char second_min, second_max;
};
constexpr Utf8Lead kUtf8Leads[] = {
    {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF}, {0xE1, 0xEC, 3, 0x80, 0xBF},
    {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
    {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F}};

// Length of the well-formed UTF-8 sequence at text[i], or 0 when the bytes there are not one.
size_t utf8_sequence_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  if (byte(i) < 0x80) return 1;
  for (const Utf8Lead& lead : kUtf8Leads) {
    if (byte(i) < lead.first || byte(i) > lead.last) continue;
    if (i + lead.length > text.size() || byte(i + 1) < lead.second_min ||
        byte(i + 1) > lead.second_max)
      return 0;
    for (size_t k = 2; k < lead.length; ++k)
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    return lead.length;
  }
  return 0;
}

// A corpus is text: valid UTF-8 without NUL bytes (a binary file would otherwise tokenize into
// a vocabulary of garbage).
void check_text(const std::string& text, const std::string& source) {
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < text.size();) {
    AN_CHECK(text[i] != '\0') << source << ":" << line << ": a NUL byte (byte "
                              << i - line_start + 1 << " of the line): this is not a text file";
    const size_t n = utf8_sequence_length(text, i);
    AN_CHECK(n > 0) << source << ":" << line << ": invalid UTF-8 (byte 0x" << std::hex
                    << static_cast<int>(static_cast<unsigned char>(text[i])) << std::dec
                    << ", byte " << i - line_start + 1
                    << " of the line): this is not a UTF-8 text file";
    if (text[i] == '\n') ++line, line_start = i + 1;
    i += n;
  }
}

}  // namespace

void tokenize_ptb(const std::string& text, const std::string& source, Dictionary& dictionary,
                  std::vector<int64_t>& ids) {
  check_text(text, source);
  const size_t before = ids.size();
  bool any_word = false;
  size_t pos = 0;
  // Python's `for line in f`: every '\n' ends a line; text after the last '\n' is one more line.
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    size_t i = pos;
    while (i < end) {
      while (i < end && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      size_t j = i;
      while (j < end && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j > i) {
        ids.push_back(dictionary.add(text.substr(i, j - i)));
        any_word = true;
      }
      i = j;
    }
    ids.push_back(dictionary.add("<eos>"));
    pos = end + 1;
  }
  AN_CHECK(any_word) << source << ": empty text (" << ids.size() - before
                     << " lines and no words); a corpus split needs at least one word";
}

TextCorpus corpus_from_texts(const std::string& name, const std::array<std::string, 3>& texts,
                             std::array<std::string, 3> sources) {
  const char* splits[3] = {"train", "valid", "test"};
  TextCorpus corpus;
  corpus.name = name;
  Tensor* out[3] = {&corpus.train, &corpus.valid, &corpus.test};
  for (int s = 0; s < 3; ++s) {
    if (sources[s].empty()) sources[s] = name + " " + splits[s];
    std::vector<int64_t> ids;
    tokenize_ptb(texts[s], sources[s], corpus.dictionary, ids);
    *out[s] = Tensor::from_vector(ids, {static_cast<int64_t>(ids.size())});
  }
  return corpus;
}

namespace {
// Three PTB-format files in `dir`; `file_names(split)` lists the names a split's file may have.
TextCorpus read_split_files(const fs::path& dir, const std::string& name, const std::string& how,
                            std::vector<std::string> (*file_names)(const std::string& split)) {
  require_folder(dir, name, how);
  std::array<std::string, 3> texts, sources;
  const char* splits[3] = {"train", "valid", "test"};
  for (int s = 0; s < 3; ++s) {
    const fs::path path = find_file(dir, file_names(splits[s]), name, how);
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    AN_CHECK(!bytes.empty()) << path.string() << ": empty text file";
    texts[s].assign(bytes.begin(), bytes.end());
    sources[s] = path.string();
  }
  return corpus_from_texts(name, texts, sources);
}

std::vector<std::string> ptb_file_names(const std::string& split) {
  return {split + ".txt", "ptb." + split + ".txt"};
}

std::vector<std::string> wikitext2_file_names(const std::string& split) {
  return {"wiki." + split + ".tokens", split + ".txt"};
}
}  // namespace

TextCorpus read_ptb(const fs::path& dir, const std::string& name, const std::string& how_to_get) {
  const std::string how = !how_to_get.empty() ? how_to_get
      : "Get the Mikolov PTB text (data/ptb.{train,valid,test}.txt of "
        "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz, or getdata.sh of "
        "salesforce/awd-lstm-lm) and pass the folder holding them.";
  return read_split_files(dir, name, how, ptb_file_names);
}

TextCorpus read_wikitext2(const fs::path& dir) {
  return read_split_files(
      dir, "wt2",
      "Get WikiText-2 (the word-level wikitext-2-v1.zip, or getdata.sh of "
      "salesforce/awd-lstm-lm, which unpacks wiki.{train,valid,test}.tokens) and pass the "
      "folder holding them.",
      wikitext2_file_names);
}

Tensor batchify(const Tensor& sequence, int64_t batch_size) {
  AN_CHECK(sequence.defined() && sequence.dim() == 1 && sequence.dtype() == DType::i64)
      << "batchify expects an i64 [tokens] sequence, got "
      << (sequence.defined() ? sequence.describe() : std::string("an undefined tensor"));
  AN_CHECK(batch_size > 0) << "batchify: batch size must be positive, got " << batch_size;
  const int64_t rows = sequence.size(0) / batch_size;
  AN_CHECK(rows > 0) << "batchify: " << sequence.size(0) << " tokens are fewer than one per "
                     << "column of a batch of " << batch_size;
  const Tensor seq = sequence.to(Device::cpu()).contiguous();
  const int64_t* in = seq.data<int64_t>();
  Tensor out = Tensor::empty({rows, batch_size}, DType::i64);
  int64_t* o = out.data<int64_t>();
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t b = 0; b < batch_size; ++b) o[t * batch_size + b] = in[b * rows + t];
  return out.to(sequence.device());
}

TextBatch get_batch(const Tensor& source, int64_t i, int64_t bptt) {
  AN_CHECK(source.defined() && source.dim() == 2 && source.is_contiguous())
      << "get_batch expects a contiguous batchified [rows, B] source, got "
      << (source.defined() ? source.describe() : std::string("an undefined tensor"));
  const int64_t rows = source.size(0);
  AN_CHECK(bptt > 0) << "get_batch: bptt must be positive, got " << bptt;
  AN_CHECK(i >= 0 && i < rows - 1) << "get_batch: start row " << i << " leaves no target in a "
                                   << "source of " << rows << " rows (need 0 <= i < rows - 1)";
  const int64_t len = std::min(bptt, rows - 1 - i);
  return {source.slice(0, i, i + len), source.slice(0, i + 1, i + 1 + len).view({-1})};
}

}  // namespace autonet::data
