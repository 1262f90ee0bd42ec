// SPDX-License-Identifier: MIT
// What MPI ranks exchange (hw/node/wire.h, hw/node/outbox.h): a request comes back as it went,
// a push within the sender's rank without its payload, and a short message is refused.
#include <catch2/catch.hpp>

#include "hw/machine/ranks.h"
#include "hw/node/outbox.h"

namespace dojosim::hw {
namespace {

Request sample() {
  Request r;
  r.kind = Request::Kind::Pull;
  r.thread = 3, r.sem = 7, r.group = 2, r.cycle = 123456789, r.seq = 42;
  r.local = 0x1000, r.global = 0x8000000000000040ull, r.len = 5, r.unknown = true;
  r.bytes = {1, 2, 3, 4, 5};
  r.text = "a line\n";
  return r;
}

TEST_CASE("a request between ranks comes back as it went", "[ranks]") {
  const Request r = sample();
  WireWriter w;
  write_request(w, r);
  write_request(w, r, false);
  WireReader in(w.bytes().data(), w.bytes().size());
  const Request a = read_request(in), b = read_request(in);
  CHECK(in.done());
  for (const Request* q : {&a, &b}) {
    CHECK(q->kind == r.kind);
    CHECK(q->thread == r.thread);
    CHECK(q->sem == r.sem);
    CHECK(q->group == r.group);
    CHECK(q->cycle == r.cycle);
    CHECK(q->seq == r.seq);
    CHECK(q->local == r.local);
    CHECK(q->global == r.global);
    CHECK(q->len == r.len);  // timed by its length even without its bytes
    CHECK(q->unknown == r.unknown);
    CHECK(q->text == r.text);
  }
  CHECK(a.bytes == r.bytes);
  CHECK(b.bytes.empty());
}

TEST_CASE("a message between ranks that ends early is refused", "[ranks]") {
  WireWriter w;
  write_request(w, sample());
  WireReader in(w.bytes().data(), w.bytes().size() - 1);
  CHECK_THROWS_WITH(read_request(in), Catch::Contains("ended early"));
}

TEST_CASE("one process is one rank that gathers its own bytes", "[ranks]") {
  const Ranks& world = ranks();
  CHECK(world.size() == 1);
  CHECK(world.rank() == 0);
  const Ranks::Gathered all = world.all_gather({9, 8, 7});
  REQUIRE(all.offsets == std::vector<size_t>{0, 3});
  CHECK(all.data == std::vector<uint8_t>{9, 8, 7});
  CHECK(world.first_of(10, 0) == 0);
}

}  // namespace
}  // namespace dojosim::hw
