// The embedded word corpus: the King James Bible of Debian's bible-kjv package, prepared into
// Penn Treebank form so the RNN search runs without a download (docs/datasets.md).
//
// Preparation (deterministic; the same text gives byte-identical files):
//  1. Source: `bible -f -p /usr/lib gen1:1-rev22:21` prints the 31,102 verses, one per line, as
//     "<Book><chapter>:<verse> <text>" (-f turns pretty-printing, and with it line wrapping, off).
//     Books are numbered 1..66 in the order they appear.
//  2. Each verse: ASCII lower-case; a word's trailing "'s" becomes its own token "'s" (as in PTB);
//     every other character that is not a letter or digit (punctuation, hyphens, other
//     apostrophes) becomes a space; a token of digits becomes "N". A verse left without words
//     is dropped. One verse per line, tokens separated by one space.
//  3. Split by book: valid = Judges (7), Proverbs (20), Mark (41), Hebrews (58); test = Job (18),
//     Daniel (27), John (43), Romans (45) — history, wisdom, gospel and epistle in each, about
//     7% of the words each; train = the other 58 books. Bible order within each split.
//  4. Vocabulary: the 9,998 most frequent words of the train split (ties by byte order) are kept,
//     every other word becomes "<unk>"; with "<unk>" and the reader's "<eos>" that makes 10,000
//     ids, as in PTB.
#pragma once
#include <array>
#include <filesystem>
#include <string>

#include "datasets/text_corpus.h"

namespace autonet::data {

// The verses as `bible -f` prints them (step 1); throws saying how to install bible-kjv when the
// program or its data is missing.
std::string kjv_verses();

// Steps 2–4 on text in the `bible -f` format: the train, valid and test files' contents.
// `vocabulary_size` counts "<unk>" and "<eos>" (10,000 by default; small for tests).
std::array<std::string, 3> prepare_kjv(const std::string& verses, int64_t vocabulary_size = 10000);

// Prepares the corpus and writes train.txt, valid.txt, test.txt into `dir` (created if needed).
void write_kjv_corpus(const std::filesystem::path& dir);

// The corpus: read from `dir` when it holds the three files, otherwise prepared from bible-kjv
// (and written to `dir` when one is given, so later runs read the files).
TextCorpus load_kjv(const std::filesystem::path& dir = {});

}  // namespace autonet::data
