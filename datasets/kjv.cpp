#include "datasets/kjv.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <vector>

#include "datasets/file_io.h"
#include "report/atomic_file.h"

namespace autonet::data {
namespace {

const char* kHowTo =
    "The kjv corpus is prepared from Debian's bible-kjv package: install it with "
    "`sudo apt-get install bible-kjv` (scripts/install-deps does).";
constexpr const char* kDataFolder = "/usr/lib";
constexpr int kBooks = 66;
constexpr int kValidBooks[] = {7, 20, 41, 58};  // Judges, Proverbs, Mark, Hebrews
constexpr int kTestBooks[] = {18, 27, 43, 45};  // Job, Daniel, John, Romans

fs::path find_program(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/bin:/usr/games";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const fs::path candidate = fs::path(path.substr(start, end - start)) / name;
    std::error_code ec;
    if (end > start && fs::is_regular_file(candidate, ec)) return candidate;
    start = end + 1;
  }
  return {};
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Step 2 on one verse's text: the tokens, appended to `out`.
void normalise_verse(const std::string& text, std::vector<std::string>& out) {
  std::string s(text);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    const bool digits = std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; });
    out.push_back(digits ? "N" : word);
    word.clear();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (is_alnum(c)) {
      word += c;
    } else if (c == '\'' && !word.empty() && i + 1 < s.size() && s[i + 1] == 's' &&
               (i + 2 == s.size() || !is_alnum(s[i + 2]))) {
      flush();
      out.push_back("'s");
      ++i;
    } else {
      flush();
    }
  }
  flush();
}

struct Verse {
  int book = 0;
  std::vector<std::string> words;
};

// Step 1's format: "<Book><chapter>:<verse> <text>" per line; books numbered as they change.
std::vector<Verse> parse_verses(const std::string& verses) {
  std::vector<Verse> out;
  std::string current_book;
  int book = 0;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < verses.size()) {
    size_t end = verses.find('\n', pos);
    if (end == std::string::npos) end = verses.size();
    const std::string line = verses.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const size_t space = line.find(' ');
    const std::string ref = line.substr(0, space);
    // The book is the reference without its trailing "<chapter>:<verse>".
    const size_t colon = ref.rfind(':');
    size_t chapter_start = colon;
    while (chapter_start > 0 && chapter_start != std::string::npos &&
           std::isdigit(static_cast<unsigned char>(ref[chapter_start - 1])))
      --chapter_start;
    AN_CHECK(colon != std::string::npos && chapter_start > 0 && chapter_start < colon)
        << "kjv: line " << line_no << " does not start with a verse reference like Ge1:1: '"
        << line.substr(0, 60) << "'";
    const std::string name = ref.substr(0, chapter_start);
    if (name != current_book) {
      current_book = name;
      ++book;
    }
    Verse v{book, {}};
    if (space != std::string::npos) normalise_verse(line.substr(space + 1), v.words);
    if (!v.words.empty()) out.push_back(std::move(v));
  }
  return out;
}

int split_of(int book) {
  for (int b : kValidBooks)
    if (b == book) return 1;
  for (int b : kTestBooks)
    if (b == book) return 2;
  return 0;
}

}  // namespace

std::string kjv_verses() {
  const fs::path program = find_program("bible");
  AN_CHECK(!program.empty()) << "kjv: the `bible` program is not installed. " << kHowTo;
  std::error_code ec;
  AN_CHECK(fs::is_regular_file(fs::path(kDataFolder) / "bible.data", ec))
      << "kjv: " << kDataFolder << "/bible.data is missing. " << kHowTo;
  std::string command = "'";
  command.append(program.string()).append("' -f -p ").append(kDataFolder);
  command.append(" gen1:1-rev22:21 </dev/null 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  AN_CHECK(pipe != nullptr) << "kjv: cannot run " << command;
  std::string text;
  char buffer[1 << 16];
  size_t got;
  while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, got);
  const int status = pclose(pipe);
  AN_CHECK(status == 0) << "kjv: `" << command << "` failed with status " << status << ". "
                        << kHowTo;
  return text;
}

std::array<std::string, 3> prepare_kjv(const std::string& verses, int64_t vocabulary_size) {
  AN_CHECK(vocabulary_size >= 3) << "kjv: vocabulary size " << vocabulary_size
                                 << " leaves no room for words beside <unk> and <eos>";
  const std::vector<Verse> parsed = parse_verses(verses);
  AN_CHECK(!parsed.empty()) << "kjv: no verses in the bible output. " << kHowTo;
  // Step 4: frequencies over the train split only.
  std::unordered_map<std::string, int64_t> counts;
  for (const Verse& v : parsed)
    if (split_of(v.book) == 0)
      for (const std::string& w : v.words) ++counts[w];
  std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  const size_t keep = std::min<size_t>(ranked.size(), static_cast<size_t>(vocabulary_size - 2));
  std::unordered_map<std::string, bool> kept;
  for (size_t i = 0; i < keep; ++i) kept[ranked[i].first] = true;

  std::array<std::string, 3> files;
  for (const Verse& v : parsed) {
    std::string& out = files[split_of(v.book)];
    for (size_t i = 0; i < v.words.size(); ++i) {
      if (i) out += ' ';
      out += kept.count(v.words[i]) ? v.words[i] : std::string("<unk>");
    }
    out += '\n';
  }
  return files;
}

namespace {
// Steps 1-4 on the installed bible-kjv, checked to be the whole Bible.
std::array<std::string, 3> prepared_kjv_files() {
  const std::string verses = kjv_verses();
  const std::vector<Verse> check = parse_verses(verses);
  AN_CHECK(!check.empty() && check.back().book == kBooks)
      << "kjv: expected the " << kBooks << " books of the King James Bible from `bible`, got "
      << (check.empty() ? 0 : check.back().book) << ". " << kHowTo;
  return prepare_kjv(verses);
}
}  // namespace

void write_kjv_corpus(const fs::path& dir) {
  const std::array<std::string, 3> files = prepared_kjv_files();
  std::error_code ec;
  fs::create_directories(dir, ec);
  AN_CHECK(fs::is_directory(dir, ec)) << "kjv: cannot create folder '" << dir.string() << "'";
  const char* names[3] = {"train.txt", "valid.txt", "test.txt"};
  for (int s = 0; s < 3; ++s) {
    // Atomically, so an interrupted run never leaves a half-written corpus behind.
    report::write_file_atomically(dir / names[s], files[s]);
  }
}

TextCorpus load_kjv(const fs::path& dir) {
  std::error_code ec;
  const bool have_files = !dir.empty() && fs::is_regular_file(dir / "train.txt", ec) &&
                          fs::is_regular_file(dir / "valid.txt", ec) &&
                          fs::is_regular_file(dir / "test.txt", ec);
  if (have_files) return read_ptb(dir, "kjv", kHowTo);
  if (!dir.empty()) {
    write_kjv_corpus(dir);
    return read_ptb(dir, "kjv", kHowTo);
  }
  return corpus_from_texts("kjv", prepared_kjv_files());
}

}  // namespace autonet::data
