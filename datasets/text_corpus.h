// Word-level language-model corpora in the Penn Treebank format (reference/darts.md §7.5):
// train/valid/test text files, each line split on whitespace with "<eos>" appended; one
// vocabulary built by first occurrence over train, then valid, then test; each split one long
// sequence of word ids.
#pragma once
#include <array>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/tensor.h"

namespace autonet::data {

class Dictionary {
 public:
  int64_t add(const std::string& word);  // id of `word`, added at the end when new
  int64_t id(const std::string& word) const;  // throws for an unknown word
  bool contains(const std::string& word) const { return ids_.count(word) != 0; }
  const std::string& word(int64_t id) const;
  int64_t size() const { return static_cast<int64_t>(words_.size()); }

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> ids_;
};

struct TextCorpus {
  std::string name;
  Dictionary dictionary;
  Tensor train, valid, test;  // i64 [tokens] each, "<eos>" included
};

// Appends the ids of `text` (PTB rules) to `ids`, growing `dictionary`. `source` names the text
// in errors; text without a single token (an empty file), a NUL byte or invalid UTF-8 is an error
// naming the line.
void tokenize_ptb(const std::string& text, const std::string& source, Dictionary& dictionary,
                  std::vector<int64_t>& ids);

// A corpus from the texts of train, valid and test (in that order, as the reference builds its
// vocabulary). `sources` name the texts in errors (default "<name> train", ...).
TextCorpus corpus_from_texts(const std::string& name, const std::array<std::string, 3>& texts,
                             std::array<std::string, 3> sources = {});

// train.txt/valid.txt/test.txt in `dir` (or ptb.train.txt/ptb.valid.txt/ptb.test.txt).
// `how_to_get` goes into the error for a missing folder or file.
TextCorpus read_ptb(const std::filesystem::path& dir, const std::string& name = "ptb",
                    const std::string& how_to_get = "");

// WikiText-2 (word level), the same format: wiki.train.tokens/wiki.valid.tokens/wiki.test.tokens
// in `dir` (or train.txt/valid.txt/test.txt). Tokenised as PTB: its <unk> and @-@ are words.
TextCorpus read_wikitext2(const std::filesystem::path& dir);

// batchify(seq, B): n = ⌊len/B⌋ rows; the tail is dropped; column b holds tokens [b·n, (b+1)·n).
// Returns i64 [n, B] (time-major).
Tensor batchify(const Tensor& sequence, int64_t batch_size);

// One BPTT window of a batchified source [rows, B] starting at row i:
// L' = min(bptt, rows − 1 − i); input = rows i..i+L'−1 [L', B]; target = rows i+1..i+L'
// flattened [L'·B]. Both are views of `source` (no copy).
struct TextBatch {
  Tensor input;   // i64 [L', B]
  Tensor target;  // i64 [L' * B]
};
TextBatch get_batch(const Tensor& source, int64_t i, int64_t bptt);

}  // namespace autonet::data
