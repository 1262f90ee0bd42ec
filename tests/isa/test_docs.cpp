// SPDX-License-Identifier: MIT
// docs/isa.md carries tables generated from the instruction table; they must match the code.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "isa/instructions.h"
#include "isa/reference_doc.h"

TEST_CASE("docs/isa.md holds the current generated reference (scripts/gen-docs.sh)", "[docs]") {
  std::ifstream f(std::string(DOJOSIM_SOURCE_DIR) + "/docs/isa.md");
  REQUIRE(f);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- BEGIN GENERATED: dojosim doc isa -->\n";
  const std::string end = "<!-- END GENERATED -->";
  const size_t b = doc.find(begin), e = doc.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  const std::string generated = doc.substr(b + begin.size(), e - b - begin.size());
  INFO("run scripts/gen-docs.sh to regenerate docs/isa.md");
  CHECK(generated == dojosim::isa::reference_markdown());
}

TEST_CASE("every row of the instruction table has a unique mnemonic and encoding", "[docs]") {
  using namespace dojosim::isa;
  for (const InstrInfo* a = begin_table(); a != end_table(); ++a) {
    CHECK(find_mnemonic(a->mnemonic) == a);
    CHECK(decode(a->encoding.match).op == a->op);
    for (const InstrInfo* b = a + 1; b != end_table(); ++b) {
      // Two rows overlap if some word matches both.
      const uint32_t common = a->encoding.mask & b->encoding.mask;
      INFO(a->mnemonic << " vs " << b->mnemonic);
      CHECK((a->encoding.match & common) != (b->encoding.match & common));
    }
  }
}
