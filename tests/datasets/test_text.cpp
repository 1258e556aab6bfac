// PTB reader, batchify/get_batch as the reference, the KJV preparation on a hand-made sample,
// and the real KJV corpus of Debian's bible-kjv.
#include <gtest/gtest.h>

#include <numeric>

#include "data_files.h"
#include "datasets/kjv.h"
#include "datasets/registry.h"
#include "datasets/text_corpus.h"

namespace autonet::data {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::TempDir;
using testing::write_text;

std::vector<std::string> words(const TextCorpus& c, const Tensor& ids) {
  std::vector<std::string> out;
  for (int64_t id : ids.to_vector<int64_t>()) out.push_back(c.dictionary.word(id));
  return out;
}

TEST(Ptb, TokenisesLinesAndBuildsTheVocabularyByFirstOccurrence) {
  TempDir tmp;
  write_text(tmp / "train.txt", " the cat sat \n the dog\n");
  write_text(tmp / "valid.txt", "a cat\n\n");       // an empty line is just <eos>
  write_text(tmp / "test.txt", "dog  <unk>\tN");     // no final newline: still a line
  const TextCorpus c = open_text_corpus("ptb", tmp.path());
  // Ids in order of first occurrence over train, valid, test: <eos> after "sat".
  EXPECT_EQ(c.dictionary.size(), 8);
  EXPECT_EQ(c.dictionary.id("the"), 0);
  EXPECT_EQ(c.dictionary.id("sat"), 2);
  EXPECT_EQ(c.dictionary.id("<eos>"), 3);
  EXPECT_EQ(c.dictionary.id("a"), 5);
  EXPECT_EQ(c.dictionary.id("N"), 7);
  EXPECT_EQ(c.train.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 0, 4, 3}));
  EXPECT_EQ(words(c, c.valid), (std::vector<std::string>{"a", "cat", "<eos>", "<eos>"}));
  EXPECT_EQ(words(c, c.test), (std::vector<std::string>{"dog", "<unk>", "N", "<eos>"}));
}

TEST(Ptb, AcceptsThePtbDotNaming) {
  TempDir tmp;
  write_text(tmp / "ptb.train.txt", "x y\n");
  write_text(tmp / "ptb.valid.txt", "y\n");
  write_text(tmp / "ptb.test.txt", "x\n");
  EXPECT_EQ(read_ptb(tmp.path()).train.numel(), 3);
}

TEST(Ptb, BadInputIsAClearError) {
  TempDir tmp;
  expect_error([&] { open_text_corpus("ptb", tmp / "gone"); },
               {"gone", "does not exist", "simple-examples.tgz"});
  expect_error([&] { open_text_corpus("ptb"); }, {"no data folder"});
  write_text(tmp / "train.txt", "x y\n");
  write_text(tmp / "valid.txt", "y\n");
  expect_error([&] { read_ptb(tmp.path()); }, {"missing file", "test.txt", "ptb.test.txt"});
  write_text(tmp / "test.txt", "");
  expect_error([&] { read_ptb(tmp.path()); }, {"test.txt", "empty text file"});
  write_text(tmp / "test.txt", "\n  \n");
  expect_error([&] { read_ptb(tmp.path()); }, {"test.txt", "empty text", "no words"});
  expect_error([&] { open_text_corpus("wiki", tmp.path()); }, {"unknown text corpus", "kjv"});
}

// A corpus is UTF-8 text: binary files (random bytes, NUL bytes) are refused naming file and line.
// A tiny corpus in the layout of WikiText-2's wiki.*.tokens: headings, blank lines, @-@ and <unk>.
TEST(WikiText2, ReadsTheTokensFilesAsPtbText) {
  TempDir tmp;
  write_text(tmp / "wiki.train.tokens", " \n = Robert <unk> = \n \n Robert was a well @-@ known \n");
  write_text(tmp / "wiki.valid.tokens", " \n = Valkyria = \n");
  write_text(tmp / "wiki.test.tokens", " Robert known \n");
  const TextCorpus c = open_text_corpus("wt2", tmp.path());
  EXPECT_EQ(c.name, "wt2");
  // Every line, blank ones too, ends in <eos>, as the reference's data.py reads them.
  EXPECT_EQ(words(c, c.train),
            (std::vector<std::string>{"<eos>", "=", "Robert", "<unk>", "=", "<eos>", "<eos>",
                                      "Robert", "was", "a", "well", "@-@", "known", "<eos>"}));
  EXPECT_EQ(words(c, c.valid), (std::vector<std::string>{"<eos>", "=", "Valkyria", "=", "<eos>"}));
  EXPECT_EQ(words(c, c.test), (std::vector<std::string>{"Robert", "known", "<eos>"}));
  EXPECT_EQ(open_text_corpus("WikiText-2", tmp.path()).train.numel(), 14);
}

TEST(WikiText2, AcceptsPtbNamesAndNamesWhatIsMissing) {
  TempDir tmp;
  expect_error([&] { open_text_corpus("wt2", tmp / "gone"); }, {"gone", "wikitext-2-v1.zip"});
  write_text(tmp / "train.txt", "x y\n");
  write_text(tmp / "valid.txt", "y\n");
  expect_error([&] { read_wikitext2(tmp.path()); },
               {"missing file", "wiki.test.tokens", "test.txt"});
  write_text(tmp / "test.txt", "x\n");
  EXPECT_EQ(read_wikitext2(tmp.path()).test.numel(), 2);
}

TEST(Ptb, BinaryOrNonUtf8FilesAreRefusedNamingTheLine) {
  TempDir tmp;
  write_text(tmp / "train.txt", "na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x93\x96\n");  // valid
  write_text(tmp / "valid.txt", "y\n");
  write_text(tmp / "test.txt", "x\n");
  EXPECT_EQ(read_ptb(tmp.path()).train.numel(), 5);

  write_text(tmp / "train.txt", "a b\nc \x93\xfe\x01 d\n");
  expect_error([&] { read_ptb(tmp.path()); }, {"train.txt:2: invalid UTF-8 (byte 0x93"});
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x80"}) {
    write_text(tmp / "train.txt", std::string("ok ") + bad + "\n");  // overlong, surrogate, > U+10FFFF, cut
    expect_error([&] { read_ptb(tmp.path()); }, {"train.txt:1: invalid UTF-8"});
  }
  write_text(tmp / "train.txt", "x y\n");
  write_text(tmp / "valid.txt", std::string(4096, '\0'));
  expect_error([&] { read_ptb(tmp.path()); }, {"valid.txt:1: a NUL byte (byte 1 of the line)"});
}

Tensor iota_sequence(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return Tensor::from_vector(v, {n});
}

TEST(Ptb, BatchifyDropsTheTailAndLaysColumnsOutAsTheReference) {
  // 11 tokens into 3 columns: n = 3 rows, token 9 and 10 dropped; column b = tokens [3b, 3b+3).
  const Tensor b = batchify(iota_sequence(11), 3);
  EXPECT_EQ(b.shape(), (Shape{3, 3}));
  EXPECT_EQ(b.to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 6, 1, 4, 7, 2, 5, 8}));
  // The reference's shapes (reference/darts.md §7.5) from the PTB token counts.
  EXPECT_EQ(batchify(iota_sequence(929589), 256).shape(), (Shape{3631, 256}));
  EXPECT_EQ(batchify(iota_sequence(73760), 10).shape(), (Shape{7376, 10}));
  EXPECT_EQ(batchify(iota_sequence(82430), 1).shape(), (Shape{82430, 1}));
  EXPECT_EQ(batchify(iota_sequence(929589), 64).shape(), (Shape{14524, 64}));
  expect_error([] { batchify(iota_sequence(2), 3); }, {"fewer than one per column"});
}

TEST(Ptb, GetBatchWindowsAreTheReferencesBpttWindows) {
  const Tensor src = batchify(iota_sequence(20), 2);  // [10, 2]: column 0 = 0..9, 1 = 10..19
  TextBatch a = get_batch(src, 0, 4);
  EXPECT_EQ(a.input.shape(), (Shape{4, 2}));
  EXPECT_EQ(a.target.shape(), (Shape{8}));
  EXPECT_EQ(a.input.to_vector<int64_t>(), (std::vector<int64_t>{0, 10, 1, 11, 2, 12, 3, 13}));
  EXPECT_EQ(a.target.to_vector<int64_t>(), (std::vector<int64_t>{1, 11, 2, 12, 3, 13, 4, 14}));
  // Near the end the window shrinks: L' = min(4, 10 − 1 − 7) = 2.
  TextBatch b = get_batch(src, 7, 4);
  EXPECT_EQ(b.input.shape(), (Shape{2, 2}));
  EXPECT_EQ(b.input.to_vector<int64_t>(), (std::vector<int64_t>{7, 17, 8, 18}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{8, 18, 9, 19}));
  // Windows over the source: i = 0, 4, 8 cover every target exactly once.
  int64_t targets = 0;
  for (int64_t i = 0; i < src.size(0) - 1; i += 4) targets += get_batch(src, i, 4).target.numel();
  EXPECT_EQ(targets, (src.size(0) - 1) * 2);
  expect_error([&] { get_batch(src, 9, 4); }, {"leaves no target"});
}

TEST(Kjv, PreparationFollowsTheDocumentedRules) {
  // 66 books of one verse each; book names as `bible` prints them (a leading digit allowed).
  std::string verses;
  for (int book = 1; book <= 66; ++book) {
    std::string name = book == 9 ? "1Sm" : "Bk" + std::string(1, char('a' + book % 26)) +
                                                     std::string(1, char('a' + book / 26));
    std::string text = "the lord";
    if (book == 1) text = "In the beginning, God's Word; LORD's word-of-life: 12 men (seven)!";
    if (book == 7) text = "Judges said: the fathers' sons.";  // valid
    if (book == 18) text = "Job spake, and the LORD answered.";  // test
    if (book == 9) text = "Samuel heard the LORD";
    verses += name + "1:" + std::to_string(book) + " " + text + "\n";
  }
  // Vocabulary 8 → 6 kept words, counted over the 58 train books: "the" 58, "lord" 58 (tie: byte
  // order puts "lord" first), "'s" 2, "word" 2, then the words seen once in byte order: "N"
  // (upper case sorts first), "beginning"; "god", "in", "of", ... become <unk>.
  const std::array<std::string, 3> files = prepare_kjv(verses, 8);
  std::vector<std::string> train_lines;
  for (size_t at = 0, end; (end = files[0].find('\n', at)) != std::string::npos; at = end + 1)
    train_lines.push_back(files[0].substr(at, end - at));
  ASSERT_EQ(train_lines.size(), 58u);
  EXPECT_EQ(train_lines[0], "<unk> the beginning <unk> 's word lord 's word <unk> <unk> N <unk> <unk>");
  EXPECT_EQ(train_lines[1], "the lord");
  EXPECT_EQ(train_lines[7], "<unk> <unk> the lord");  // book 9: Bible order, book 7 left out
  // Valid = books 7, 20, 41, 58; test = books 18, 27, 43, 45, in Bible order.
  EXPECT_EQ(files[1], "<unk> <unk> the <unk> <unk>\nthe lord\nthe lord\nthe lord\n");
  EXPECT_EQ(files[2], "<unk> <unk> <unk> the lord <unk>\nthe lord\nthe lord\nthe lord\n");
  // Deterministic: the same text gives the same files.
  EXPECT_EQ(prepare_kjv(verses, 8), files);
  expect_error([] { prepare_kjv("not a verse line\n"); }, {"verse reference"});
}

// The embedded default: Debian's bible-kjv (scripts/install-deps installs it).
TEST(Kjv, LoadsFromTheDebianPackageAndCachesFiles) {
  TempDir tmp;
  const TextCorpus c = open_text_corpus("kjv", tmp / "kjv");
  EXPECT_EQ(c.dictionary.size(), 10000);  // 9,998 words + <unk> + <eos>, as PTB
  const int64_t total = c.train.numel() + c.valid.numel() + c.test.numel();
  EXPECT_GT(total, 800000);
  EXPECT_LT(total, 840000);
  EXPECT_GT(c.valid.numel(), total / 20);
  EXPECT_GT(c.test.numel(), total / 20);
  EXPECT_TRUE(fs::exists(tmp / "kjv" / "train.txt"));
  // Read back from the cached files and prepared in memory: the same corpus.
  const TextCorpus again = open_text_corpus("kjv", tmp / "kjv");
  const TextCorpus memory = open_text_corpus("kjv");
  EXPECT_EQ(again.train.to_vector<int64_t>(), c.train.to_vector<int64_t>());
  EXPECT_EQ(memory.test.to_vector<int64_t>(), c.test.to_vector<int64_t>());
  EXPECT_EQ(c.dictionary.word(c.train.data<int64_t>()[0]), "in");  // "In the beginning"
}

}  // namespace
}  // namespace autonet::data
