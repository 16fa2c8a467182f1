/* Intel AMX (tile registers and their int8 / bf16 dot products): whether the GEMM families may
 * use it, and why not.
 *
 * AMX is used only when all of these hold, checked once per process (thread-safe) at the first
 * question: CPUID leaf 7 reports AMX-TILE and the kind's unit (AMX-INT8 or AMX-BF16) plus the
 * AVX-512 extension its fallback tile needs (VNNI, BF16); the OS enables the tile state in XCR0
 * (bits 17, 18); on Linux, arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) grants this process the
 * tile data (confirmed with ARCH_GET_XCOMP_PERM); DLCORE_AMX is not 0/off/false/no; and the
 * kind's self-check (amx_selfcheck.c: a small odd-sized GEMM through the AMX tile compared with
 * an independent product, with SIGILL/SIGSEGV/SIGBUS on that thread caught) passed.  Any
 * failure leaves the kind off for the process, with its reason kept for dl_amx_status(). */
#ifndef DLCORE_AMX_H
#define DLCORE_AMX_H

enum { DL_AMX_INT8 = 0, DL_AMX_BF16 = 1 };

/* 1 when the kind's AMX tiles may run (detection, permission and self-check passed; the
 * self-check runs here the first time); 0 otherwise.  Call outside parallel regions before
 * choosing the AMX tile; never executes a tile instruction when the CPU or OS lack AMX. */
int dl_amx_ready(int kind);

/* Tests and benchmarks: allow (1) or forbid (0) AMX for later calls; returns the previous. */
int dl_amx_allow(int allow);
int dl_amx_allowed(void);

/* "used", "present (...)", "absent (...)", "refused by the OS (...)", "off (DLCORE_AMX=0)",
 * "disabled by the self-check (...)"; runs the detection and self-check if not yet done. */
const char *dl_amx_status(int kind);

#endif
