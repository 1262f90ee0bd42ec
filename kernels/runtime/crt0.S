/* SPDX-License-Identifier: MIT */
/*
 * Start file of C kernels (see docs/kernels-c.md). Every thread of a node starts here, at
 * the ELF entry point, with sp already set by the simulator (top of SRAM minus
 * thread id * stack size, 16-byte aligned) and every other register zero. It:
 *   1. points gp at __global_pointer$, if the linker script defines it, so that linker
 *      relaxation can reach small data in one instruction;
 *   2. gives the thread its own TLS block, carved from the top of its stack, because
 *      picolibc keeps errno (and some stdio state) in _Thread_local variables and the
 *      threads of a node share one SRAM;
 *   3. calls main(0, NULL);
 *   4. flushes this thread's stdio buffers, if syscalls.c is linked, and exits the thread
 *      with main's return value (ecall a7 = 93).
 * Nothing else: .data is in SRAM as loaded and .bss reads as zero when the node starts, so
 * there is nothing to copy or clear; constructors are not run (dojo.ld refuses them), because
 * every thread would run them at once.
 */

	.section .text.init.enter, "ax", @progbits
	.globl	_start
	.type	_start, @function
	.weak	__global_pointer$
	.weak	__dojo_stdio_flush
_start:
	/* Absolute lui/addi rather than la: an undefined weak symbol then yields 0 in gp, and
	 * everything in a node's SRAM is below 2 GiB. norelax: gp cannot be relative to itself. */
	.option	push
	.option	norelax
	lui	gp, %hi(__global_pointer$)
	addi	gp, gp, %lo(__global_pointer$)
	.option	pop

	/* TLS: tp = a block of __tls_size bytes (aligned to 16 and to __tls_align) below the
	 * incoming sp; the stack continues below it. RISC-V TLS variant I: tp points at the
	 * block itself, with no thread control block in front. */
	lui	t0, %hi(__tls_size)
	addi	t0, t0, %lo(__tls_size)
	beqz	t0, 1f
	addi	t0, t0, 15
	andi	t0, t0, -16
	sub	sp, sp, t0
	lui	t1, %hi(__tls_align)
	addi	t1, t1, %lo(__tls_align)
	neg	t1, t1
	and	sp, sp, t1
	mv	tp, sp
	mv	a0, sp
	call	_init_tls	/* picolibc: copies .tdata and clears .tbss into the block at a0 */
1:
	li	a0, 0		/* argc */
	li	a1, 0		/* argv */
	call	main
	mv	s0, a0

	lui	t0, %hi(__dojo_stdio_flush)
	addi	t0, t0, %lo(__dojo_stdio_flush)
	beqz	t0, 2f
	jalr	t0
2:
	mv	a0, s0
	li	a7, 93
	ecall
	/* Not reached: exit does not return. Trap rather than run into whatever follows. */
	ebreak
	.size	_start, . - _start
