// remember/recall: the expected document ranks first for each query in each mode, on a
// small corpus built here; namespaces; the embedding cache.
#include <doctest/doctest.h>

#include "memory_fixture.hpp"

using namespace perdiem;
using namespace perdiem::memory;
using namespace perdiem::memory::testing;

namespace {

struct Doc {
  const char* source;
  const char* text;
};

const Doc kCorpus[] = {
    {"volcano",
     "Volcanoes erupt when magma from the mantle rises through the crust. Lava "
     "flows, ash clouds and pyroclastic surges follow a volcanic eruption."},
    {"sourdough",
     "Sourdough bread rises with a starter of wild yeast and lactobacilli. Bakers "
     "feed the starter flour and water, then proof the dough overnight."},
    {"orbit",
     "A satellite stays in orbit because its sideways velocity balances gravity. "
     "Geostationary orbits match the rotation of the Earth."},
    {"tides",
     "Ocean tides are driven by the gravity of the Moon and the Sun. Spring tides "
     "happen when they align; neap tides when they are at right angles."},
    {"chess",
     "In chess the bishop moves diagonally and the knight jumps in an L shape. "
     "Castling moves the king two squares toward a rook."},
    {"compiler",
     "A compiler parses source code into a syntax tree, optimizes an intermediate "
     "representation, and emits machine code for the target processor."},
    {"bees",
     "Honey bees communicate the direction of flowers with a waggle dance. The hive "
     "stores nectar as honey and pollen as bee bread."},
    {"coffee",
     "Espresso forces hot water through finely ground coffee at high pressure. "
     "The crema is an emulsion of coffee oils and carbon dioxide."},
};

struct Query {
  const char* text;
  const char* expected_source;
};

const Query kQueries[] = {
    {"magma lava eruption", "volcano"},
    {"wild yeast starter for bread", "sourdough"},
    {"geostationary satellite orbit", "orbit"},
    {"why do ocean tides happen", "tides"},
    {"how does the knight move in chess", "chess"},
    {"compiler syntax tree machine code", "compiler"},
    {"waggle dance of honey bees", "bees"},
    {"espresso crema pressure", "coffee"},
};

void remember_corpus(MemoryStore& store, const EmbeddingModel* model) {
  for (const Doc& doc : kCorpus) {
    RememberOptions options;
    options.ns = "science";
    options.source = doc.source;
    options.tags = {"corpus"};
    options.embedding = model;
    auto r = store.remember(doc.text, options);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().describe()));
    CHECK(r->chunk_ids.size() == 1);
  }
}

}  // namespace

TEST_CASE("the expected document ranks first for each query, in each mode") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  HashedBagOfWords embedder;
  remember_corpus(*store, &embedder.model);
  for (RecallMode mode : {RecallMode::text, RecallMode::vector, RecallMode::hybrid}) {
    for (const Query& q : kQueries) {
      RecallOptions options;
      options.k = 3;
      options.mode = mode;
      options.embedding = &embedder.model;
      auto hits = store->recall(q.text, options);
      REQUIRE_MESSAGE(hits.ok(), (hits.ok() ? "" : hits.error().describe()));
      REQUIRE(!hits->empty());
      CHECK_MESSAGE(hits->front().source == q.expected_source, "mode ", static_cast<int>(mode),
                    " query \"", q.text, "\" ranked ", hits->front().source, " first");
      CHECK(hits->size() <= 3);
      for (std::size_t i = 0; i < hits->size(); ++i) {
        CHECK((*hits)[i].rank == static_cast<int>(i + 1));
        if (i) CHECK((*hits)[i].score <= (*hits)[i - 1].score);
      }
      CHECK(hits->front().ns == "science");
      CHECK(hits->front().document_id > 0);
    }
  }
}

TEST_CASE("hybrid fuses both lists: a document found by only one mode still ranks") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  HashedBagOfWords embedder;
  remember_corpus(*store, &embedder.model);
  RecallOptions options;
  options.k = 8;
  options.mode = RecallMode::hybrid;
  options.embedding = &embedder.model;
  auto hits = store->recall("volcanic crust", options);
  REQUIRE(hits.ok());
  REQUIRE(!hits->empty());
  CHECK(hits->front().source == "volcano");
  // Ranked first by both lists: 1/61 + 1/61.
  CHECK(hits->front().score == doctest::Approx(2.0 / 61.0));
}

TEST_CASE("namespaces filter every mode") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  HashedBagOfWords embedder;
  RememberOptions a;
  a.ns = "alice";
  a.embedding = &embedder.model;
  RememberOptions b = a;
  b.ns = "bob";
  REQUIRE(store->remember("Alice keeps her passport in the blue drawer.", a).ok());
  REQUIRE(store->remember("Bob keeps his passport in the red box.", b).ok());
  for (RecallMode mode : {RecallMode::text, RecallMode::vector, RecallMode::hybrid}) {
    RecallOptions options;
    options.ns = "bob";
    options.mode = mode;
    options.embedding = &embedder.model;
    auto hits = store->recall("where is the passport", options);
    REQUIRE(hits.ok());
    REQUIRE(hits->size() == 1);
    CHECK(hits->front().ns == "bob");
    options.ns = "carol";
    CHECK(store->recall("where is the passport", options).value().empty());
  }
}

TEST_CASE("the same text is never embedded twice, for chunks or queries") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  HashedBagOfWords embedder;
  RememberOptions options;
  options.embedding = &embedder.model;
  {
    auto store = open_store(path);
    auto first = store->remember("Para one.\n\nPara two.", remember_options(&embedder.model, 16));
    REQUIRE(first.ok());
    CHECK(first->chunk_ids.size() == 2);
    CHECK(first->newly_embedded == 2);
    auto again = store->remember("Para one.\n\nPara two.", remember_options(&embedder.model, 16));
    REQUIRE(again.ok());
    CHECK(again->newly_embedded == 0);
    // Duplicate chunks inside one text are embedded once.
    auto dup = store->remember("Same words.\n\nSame words.", remember_options(&embedder.model, 16));
    REQUIRE(dup.ok());
    CHECK(dup->newly_embedded == 1);
    CHECK(embedder.texts_embedded.load() == 3);

    RecallOptions recall;
    recall.mode = RecallMode::vector;
    recall.embedding = &embedder.model;
    auto first_recall = store->recall("para", recall);
    REQUIRE_MESSAGE(first_recall.ok(), (first_recall.ok() ? "" : first_recall.error().describe()));
    CHECK(embedder.texts_embedded.load() == 4);
    REQUIRE(store->recall("para", recall).ok());
    CHECK(embedder.texts_embedded.load() == 4);
  }
  // The cache is in memory.db, so it survives reopening.
  auto store = open_store(path);
  REQUIRE(store->remember("Para one.", options).ok());
  CHECK(embedder.texts_embedded.load() == 4);
  auto stats = store->stats();
  REQUIRE(stats.ok());
  CHECK(stats->embeddings == 4);
}

TEST_CASE("vector recall sees chunks remembered after its first search") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  HashedBagOfWords embedder;
  RememberOptions options;
  options.embedding = &embedder.model;
  RecallOptions recall;
  recall.mode = RecallMode::vector;
  recall.embedding = &embedder.model;
  REQUIRE(store->remember("apples and pears", options).ok());
  CHECK(store->recall("kiwi mango", recall).value().size() == 1);
  REQUIRE(store->remember("kiwi mango papaya", options).ok());
  auto hits = store->recall("kiwi mango", recall);
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 2);
  CHECK(hits->front().text == "kiwi mango papaya");
  CHECK(hits->front().score == doctest::Approx(2.0 / std::sqrt(6.0)).epsilon(0.2));
}

TEST_CASE("recall and remember refuse bad input with invalid_argument") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  CHECK(store->remember("   ", {}).error().kind == ErrorKind::invalid_argument);
  CHECK(store->remember("x", remember_options(nullptr, 1200, "")).error().kind ==
        ErrorKind::invalid_argument);
  RecallOptions vector;
  vector.mode = RecallMode::vector;
  CHECK(store->recall("q", vector).error().kind == ErrorKind::invalid_argument);
  RecallOptions zero_k;
  zero_k.k = 0;
  CHECK(store->recall("q", zero_k).error().kind == ErrorKind::invalid_argument);
  CHECK(parse_recall_mode("hybrid").value() == RecallMode::hybrid);
  CHECK(parse_recall_mode("fuzzy").error().kind == ErrorKind::invalid_argument);

  EmbeddingModel wrong{
      "bad", 4,
      [](const std::vector<std::string>& texts) -> Result<std::vector<std::vector<float>>> {
        return std::vector<std::vector<float>>(texts.size(), {1.0f, 2.0f});
      }};
  auto r = store->remember("some text", remember_options(&wrong));
  REQUIRE(!r.ok());
  CHECK(r.error().kind == ErrorKind::invalid_argument);
  CHECK(r.error().message.find("declared with 4") != std::string::npos);
  CHECK(store->stats().value().documents == 0);  // nothing half-stored
}

TEST_CASE("a word common to many chunks is left out when rarer words remain") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  // "report" is in every chunk; "zebra" in one. The chunk saying "report" most often
  // would win an OR of both words; with "report" left out only "zebra" decides.
  std::vector<std::string> texts;
  for (int i = 0; i < 6; ++i) texts.push_back("report report report number " + std::to_string(i));
  texts.push_back("report on the zebra");
  std::vector<std::string_view> views(texts.begin(), texts.end());
  auto stored = store->remember_many(views, remember_options());
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 7);
  CHECK(store->stats().value().documents == 7);

  RecallOptions options;
  options.k = 10;
  options.common_term_chunks = 5;
  auto hits = store->recall("zebra report", options);
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);  // only the rare word searched
  CHECK(hits->front().text == "report on the zebra");

  // Every word common: all are required, among the newest common_query_window chunks.
  options.common_query_window = 3;
  auto common = store->recall("report", options);
  REQUIRE(common.ok());
  CHECK(common->size() == 3);
  for (const auto& hit : *common) CHECK(hit.chunk_id > stored->back().chunk_ids.back() - 3);

  // With the default threshold nothing here is common: both words count.
  auto plain = store->recall("zebra report", {});
  REQUIRE(plain.ok());
  CHECK(plain->size() == 5);
}
