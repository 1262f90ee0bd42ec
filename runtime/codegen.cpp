// SPDX-License-Identifier: MIT
#include "runtime/codegen.h"

#include <stdexcept>

#include "isa/instructions.h"

namespace dojosim::runtime::codegen {

std::string_view XReg::name() const {
  return isa::xreg_abi_name(n);
}

int64_t imm12(int64_t v, std::string_view what) {
  if (v < -2048 || v > 2047)
    throw std::invalid_argument(fmt::format(
        "kernel generator: {} = {} does not fit a 12-bit immediate; this core configuration "
        "(vector length, matrix shape) is outside what the generator supports",
        what, v));
  return v;
}

void AsmWriter::buffer_slot(XReg slot, XReg step, XReg args) {
  op("andi    {}, {}, 1", slot.name(), step.name());
  op("slli    {}, {}, 3", slot.name(), slot.name());
  op("add     {}, {}, {}", slot.name(), slot.name(), args.name());
}

void AsmWriter::send_pieces(std::string_view prefix, XReg dst, XReg src, XReg piece, XReg pieces,
                            std::string_view sem) {
  label(fmt::format("{}_send_piece", prefix));
  op("push    {}, {}, {}, {}", dst.name(), src.name(), piece.name(), sem);
  op("add     {}, {}, {}", src.name(), src.name(), piece.name());
  op("add     {}, {}, {}", dst.name(), dst.name(), piece.name());
  op("addi    {}, {}, -1", pieces.name(), pieces.name());
  op("bnez    {}, {}_send_piece", pieces.name(), prefix);
}

void AsmWriter::receive_pieces(std::string_view prefix, XReg dst, XReg src, XReg piece, XReg pieces,
                               XReg forward, XReg one, std::string_view sem) {
  op("li      {}, 1", one.name());
  label(fmt::format("{}_receive_piece", prefix));
  op("swait   {}, {}", sem, one.name());
  op("beqz    {}, {}_next_piece", forward.name(), prefix);
  op("push    {}, {}, {}, {}", dst.name(), src.name(), piece.name(), sem);
  label(fmt::format("{}_next_piece", prefix));
  op("add     {}, {}, {}", src.name(), src.name(), piece.name());
  op("add     {}, {}, {}", dst.name(), dst.name(), piece.name());
  op("addi    {}, {}, -1", pieces.name(), pieces.name());
  op("bnez    {}, {}_receive_piece", pieces.name(), prefix);
}

void AsmWriter::exit_program() {
  raw("\nexit:");
  op("li      a0, 0");
  op("li      a7, 93");
  op("ecall");
}

ScalarOp op3(std::string_view mnemonic, XReg rd, XReg rs1, XReg rs2) {
  return {fmt::format("{} {}, {}, {}", mnemonic, rd.name(), rs1.name(), rs2.name()),
          static_cast<int>(rd.n),
          {static_cast<int>(rs1.n), static_cast<int>(rs2.n)}};
}

ScalarOp op2i(std::string_view mnemonic, XReg rd, XReg rs1, int64_t imm) {
  return {fmt::format("{} {}, {}, {}", mnemonic, rd.name(), rs1.name(), imm12(imm, mnemonic)),
          static_cast<int>(rd.n),
          {static_cast<int>(rs1.n), -1}};
}

ScalarOp op2(std::string_view mnemonic, XReg rd, XReg rs) {
  return {fmt::format("{} {}, {}", mnemonic, rd.name(), rs.name()),
          static_cast<int>(rd.n),
          {static_cast<int>(rs.n), -1}};
}

ScalarOp advance(XReg p, int64_t c) {
  ScalarOp op = op2i("addi", p, p, c);
  op.advance = c;
  return op;
}

void ScalarQueue::emit_at(AsmWriter& w, size_t i) {
  const ScalarOp& op = pending_[i];
  w.op("{}", op.text);
  if (op.advance) advanced_[op.dst] += op.advance;
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
}

void ScalarQueue::fill(AsmWriter& w, int slot, int capacity) {
  // A later op may go before earlier pending ones if it neither reads nor writes what they
  // write, nor writes what they read; and never beside an op whose result it reads.
  auto reads = [](const ScalarOp& op, int reg) {
    return reg > 0 && (op.src[0] == reg || op.src[1] == reg);
  };
  std::array<bool, 32> written{};
  int emitted = 0;
  for (size_t i = 0; i < pending_.size() && emitted < capacity;) {
    const ScalarOp& op = pending_[i];
    bool ok = op.not_before <= slot;
    for (int s : op.src) ok &= !(s > 0 && written[s]);
    for (size_t j = 0; j < i && ok; ++j) {
      const ScalarOp& earlier = pending_[j];
      ok = !reads(op, earlier.dst) && !reads(earlier, op.dst) &&
           !(op.dst > 0 && op.dst == earlier.dst);
    }
    if (!ok) {
      ++i;
      continue;
    }
    if (op.dst > 0) written[op.dst] = true;
    emit_at(w, i);
    ++emitted;
  }
}

void ScalarQueue::require(AsmWriter& w, XReg reg) {
  size_t last = pending_.size();
  for (size_t i = 0; i < pending_.size(); ++i)
    if (pending_[i].dst == static_cast<int>(reg.n)) last = i;
  if (last == pending_.size()) return;
  for (size_t i = 0; i <= last; ++i) emit_at(w, 0);
}

void ScalarQueue::flush(AsmWriter& w) {
  while (!pending_.empty()) emit_at(w, 0);
}

}  // namespace dojosim::runtime::codegen
