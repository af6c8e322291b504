#include "textflag.h"

// HSUM leaves in the low lane of X the sum of the 8 lanes of Y, in the order
// of dotsGeneric: lanes l and l+4, then those pairs 0+2 and 1+3, then the two.
#define HSUM(Y, X, T, TX) \
	VEXTRACTF128 $1, Y, TX; \
	VADDPS       TX, X, X;  \
	VPERMILPS    $0x4E, X, TX; \
	VADDPS       TX, X, X;  \
	VPERMILPS    $0xB1, X, TX; \
	VADDPS       TX, X, X

// func dotsAVX2(out, x, c []float32)
TEXT ·dotsAVX2(SB), NOSPLIT, $0-72
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), R8
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), R9
	MOVQ c_base+48(FP), DX
	MOVQ R9, R10
	ANDQ $-8, R10
	MOVQ R9, R11
	SHLQ $2, R11

block4:
	CMPQ   R8, $4
	JL     single
	LEAQ   (DX)(R11*1), R12
	LEAQ   (R12)(R11*1), R13
	LEAQ   (R13)(R11*1), R14
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX

b4loop:
	CMPQ    AX, R10
	JGE     b4red
	VMOVUPS (SI)(AX*4), Y4
	VMULPS  (DX)(AX*4), Y4, Y5
	VADDPS  Y5, Y0, Y0
	VMULPS  (R12)(AX*4), Y4, Y6
	VADDPS  Y6, Y1, Y1
	VMULPS  (R13)(AX*4), Y4, Y7
	VADDPS  Y7, Y2, Y2
	VMULPS  (R14)(AX*4), Y4, Y8
	VADDPS  Y8, Y3, Y3
	ADDQ    $8, AX
	JMP     b4loop

b4red:
	HSUM(Y0, X0, Y5, X5)
	HSUM(Y1, X1, Y6, X6)
	HSUM(Y2, X2, Y7, X7)
	HSUM(Y3, X3, Y8, X8)
	MOVQ R10, AX

t4loop:
	CMPQ   AX, R9
	JGE    t4done
	VMOVSS (SI)(AX*4), X4
	VMULSS (DX)(AX*4), X4, X5
	VADDSS X5, X0, X0
	VMULSS (R12)(AX*4), X4, X6
	VADDSS X6, X1, X1
	VMULSS (R13)(AX*4), X4, X7
	VADDSS X7, X2, X2
	VMULSS (R14)(AX*4), X4, X8
	VADDSS X8, X3, X3
	INCQ   AX
	JMP    t4loop

t4done:
	VMOVSS X0, (DI)
	VMOVSS X1, 4(DI)
	VMOVSS X2, 8(DI)
	VMOVSS X3, 12(DI)
	ADDQ   $16, DI
	LEAQ   (R14)(R11*1), DX
	SUBQ   $4, R8
	JMP    block4

single:
	CMPQ   R8, $0
	JE     dotsdone
	VXORPS Y0, Y0, Y0
	XORQ   AX, AX

s1loop:
	CMPQ    AX, R10
	JGE     s1red
	VMOVUPS (SI)(AX*4), Y4
	VMULPS  (DX)(AX*4), Y4, Y5
	VADDPS  Y5, Y0, Y0
	ADDQ    $8, AX
	JMP     s1loop

s1red:
	HSUM(Y0, X0, Y5, X5)
	MOVQ R10, AX

s1tail:
	CMPQ   AX, R9
	JGE    s1done
	VMOVSS (SI)(AX*4), X4
	VMULSS (DX)(AX*4), X4, X5
	VADDSS X5, X0, X0
	INCQ   AX
	JMP    s1tail

s1done:
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R11, DX
	DECQ   R8
	JMP    single

dotsdone:
	VZEROUPPER
	RET

// func axpyAVX2(f, a []float32, w float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-52
	MOVQ         f_base+0(FP), DI
	MOVQ         f_len+8(FP), CX
	MOVQ         a_base+24(FP), SI
	VBROADCASTSS w+48(FP), Y7
	XORQ         AX, AX

axloop:
	CMPQ    CX, $8
	JL      axdone
	VMULPS  (SI)(AX*4), Y7, Y0
	VADDPS  (DI)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     axloop

axdone:
	VZEROUPPER
	RET

// func accum64AVX2(b []float64, x []float32, w float64)
TEXT ·accum64AVX2(SB), NOSPLIT, $0-56
	MOVQ         b_base+0(FP), DI
	MOVQ         b_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSD w+48(FP), Y7
	XORQ         AX, AX

acloop:
	CMPQ      CX, $4
	JL        acdone
	VCVTPS2PD (SI)(AX*4), Y0
	VMULPD    Y7, Y0, Y0
	VADDPD    (DI)(AX*8), Y0, Y0
	VMOVUPD   Y0, (DI)(AX*8)
	ADDQ      $4, AX
	SUBQ      $4, CX
	JMP       acloop

acdone:
	VZEROUPPER
	RET

// func cpuidECX(leaf uint32) uint32
TEXT ·cpuidECX(SB), NOSPLIT, $0-12
	MOVL leaf+0(FP), AX
	XORL CX, CX
	CPUID
	MOVL CX, ret+8(FP)
	RET

// TILEROW adds x[d] (XP's row) times the 16 columns in Y8 and Y9 to A0 and
// A1; TILEROW8 times the 8 in Y8 to A0.
#define TILEROW(XP, A0, A1) \
	VBROADCASTSS (XP)(AX*4), Y10; \
	VMULPS       Y8, Y10, Y11;    \
	VADDPS       Y11, A0, A0;     \
	VMULPS       Y9, Y10, Y12;    \
	VADDPS       Y12, A1, A1

#define TILEROW8(XP, A0) \
	VBROADCASTSS (XP)(AX*4), Y10; \
	VMULPS       Y8, Y10, Y11;    \
	VADDPS       Y11, A0, A0

// func dotsPanelAVX2(out []float32, n int, x []float32, D int, p []float32, w int)
//
// out[r*n+k] = sum over d of x[r*D+d]*p[d*w+k] for 4 rows r and the w (16
// or 8) columns k of one panel: 8 (or 4) sums in registers, each vector of
// the panel loaded once for the 4 rows. The panel is contiguous, so its
// loads run in order through L1 (the [D, n] transpose read at a stride of
// n*4 bytes took 1.1-1.15x the time).
// Registers: DI out, R8 n*4, SI R12 R13 R14 the rows of x, R9 D, BX
// &p[d*w], R10 w, AX d.
TEXT ·dotsPanelAVX2(SB), NOSPLIT, $0-96
	MOVQ out_base+0(FP), DI
	MOVQ n+24(FP), R8
	SHLQ $2, R8
	MOVQ x_base+32(FP), SI
	MOVQ D+56(FP), R9
	MOVQ p_base+64(FP), BX
	MOVQ w+88(FP), R10
	LEAQ (SI)(R9*4), R12
	LEAQ (R12)(R9*4), R13
	LEAQ (R13)(R9*4), R14
	XORQ AX, AX
	CMPQ R10, $16
	JNE  p8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

p16d:
	CMPQ    AX, R9
	JGE     p16store
	VMOVUPS (BX), Y8
	VMOVUPS 32(BX), Y9
	TILEROW(SI, Y0, Y1)
	TILEROW(R12, Y2, Y3)
	TILEROW(R13, Y4, Y5)
	TILEROW(R14, Y6, Y7)
	ADDQ    $64, BX
	INCQ    AX
	JMP     p16d

p16store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R8, DI
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	ADDQ    R8, DI
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ    R8, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	VZEROUPPER
	RET

p8:
	VXORPS Y0, Y0, Y0
	VXORPS Y2, Y2, Y2
	VXORPS Y4, Y4, Y4
	VXORPS Y6, Y6, Y6

p8d:
	CMPQ    AX, R9
	JGE     p8store
	VMOVUPS (BX), Y8
	TILEROW8(SI, Y0)
	TILEROW8(R12, Y2)
	TILEROW8(R13, Y4)
	TILEROW8(R14, Y6)
	ADDQ    $32, BX
	INCQ    AX
	JMP     p8d

p8store:
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	VMOVUPS Y2, (DI)
	ADDQ    R8, DI
	VMOVUPS Y4, (DI)
	ADDQ    R8, DI
	VMOVUPS Y6, (DI)
	VZEROUPPER
	RET

// TILE512ROW adds x[d] (the row at address XA) times the 16 columns in Z8
// to A: the product rounded, then added, as in TILEROW.
#define TILE512ROW(XA, A) \
	VMULPS.BCST XA, Z8, Z9; \
	VADDPS      Z9, A, A

// func dotsPanel512(out []float32, n int, x []float32, D int, p []float32)
//
// dotsPanelAVX2 for 8 rows and a panel of 16 columns, a column's sums in
// the lanes of one 512-bit register per row: the same products added in
// the same order, twice the work an instruction.
TEXT ·dotsPanel512(SB), NOSPLIT, $0-88
	MOVQ out_base+0(FP), DI
	MOVQ n+24(FP), R8
	SHLQ $2, R8
	MOVQ x_base+32(FP), SI
	MOVQ D+56(FP), CX
	MOVQ p_base+64(FP), BX
	MOVQ CX, R9
	SHLQ $2, R9              // a row's stride in bytes
	LEAQ (R9)(R9*2), R11     // three strides
	LEAQ (SI)(R11*1), R12    // row 3
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

z16d:
	TESTQ   CX, CX
	JE      z16store
	VMOVUPS (BX), Z8
	TILE512ROW((SI), Z0)
	TILE512ROW((SI)(R9*1), Z1)
	TILE512ROW((SI)(R9*2), Z2)
	TILE512ROW((R12), Z3)
	TILE512ROW((SI)(R9*4), Z4)
	TILE512ROW((R12)(R9*2), Z5)
	TILE512ROW((SI)(R11*2), Z6)
	TILE512ROW((R12)(R9*4), Z7)
	ADDQ    $64, BX
	ADDQ    $4, SI
	ADDQ    $4, R12
	DECQ    CX
	JMP     z16d

z16store:
	VMOVUPS Z0, (DI)
	ADDQ    R8, DI
	VMOVUPS Z1, (DI)
	ADDQ    R8, DI
	VMOVUPS Z2, (DI)
	ADDQ    R8, DI
	VMOVUPS Z3, (DI)
	ADDQ    R8, DI
	VMOVUPS Z4, (DI)
	ADDQ    R8, DI
	VMOVUPS Z5, (DI)
	ADDQ    R8, DI
	VMOVUPS Z6, (DI)
	ADDQ    R8, DI
	VMOVUPS Z7, (DI)
	VZEROUPPER
	RET

// func unaryAVX2(u, norms []float32)
TEXT ·unaryAVX2(SB), NOSPLIT, $0-48
	MOVQ u_base+0(FP), DI
	MOVQ u_len+8(FP), CX
	MOVQ norms_base+24(FP), SI
	XORQ AX, AX

unloop:
	CMPQ    AX, CX
	JGE     undone
	VMOVUPS (DI)(AX*4), Y0
	VADDPS  Y0, Y0, Y0
	VMOVUPS (SI)(AX*4), Y1
	VSUBPS  Y0, Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     unloop

undone:
	VZEROUPPER
	RET

// func prefetchCodewords(cb []float32, code []uint16, K, D int)
//
// PREFETCHT0 on every cache line of the codewords code selects (row
// m*K+code[m] of D values each, inside cb: the caller checks).
TEXT ·prefetchCodewords(SB), NOSPLIT, $0-64
	MOVQ cb_base+0(FP), SI
	MOVQ code_base+24(FP), BX
	MOVQ code_len+32(FP), CX
	MOVQ K+48(FP), R8
	MOVQ D+56(FP), R9
	SHLQ $2, R9
	XORQ R10, R10 // m

pfrow:
	CMPQ    R10, CX
	JGE     pfdone
	MOVWQZX (BX)(R10*2), AX
	MOVQ    R10, DX
	IMULQ   R8, DX
	ADDQ    DX, AX
	IMULQ   R9, AX
	ADDQ    SI, AX     // the row's first byte
	LEAQ    -1(AX)(R9*1), DX // its last
	PREFETCHT0 (DX)

pfline:
	PREFETCHT0 (AX)
	ADDQ       $64, AX
	CMPQ       AX, DX
	JLE        pfline
	INCQ       R10
	JMP        pfrow

pfdone:
	RET

// func prefetchFloats(v []float32)
//
// PREFETCHT0 on every cache line of v (not empty).
TEXT ·prefetchFloats(SB), NOSPLIT, $0-24
	MOVQ       v_base+0(FP), AX
	MOVQ       v_len+8(FP), DX
	LEAQ       -4(AX)(DX*4), DX // the last value
	PREFETCHT0 (DX)

pffline:
	PREFETCHT0 (AX)
	ADDQ       $64, AX
	CMPQ       AX, DX
	JLE        pffline
	RET

// func dotsColsAVX2(out []float32, x []float32, cols []float32, n int)
//
// dotsCols512 in AVX2: 64 columns' sums in eight registers, then 8.
// Registers: DI out, R8 len(out), SI x, R9 len(x), DX cols, R10 a row's
// bytes, AX the first column, BX its address in row d, CX d.
TEXT ·dotsColsAVX2(SB), NOSPLIT, $0-80
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), R8
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), R9
	MOVQ cols_base+48(FP), DX
	MOVQ n+72(FP), R10
	SHLQ $2, R10
	XORQ AX, AX

dy64:
	LEAQ   64(AX), R11
	CMPQ   R11, R8
	JG     dy8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	LEAQ   (DX)(AX*4), BX
	XORQ   CX, CX

dy64d:
	CMPQ         CX, R9
	JGE          dy64s
	VBROADCASTSS (SI)(CX*4), Y8
	VMULPS       (BX), Y8, Y9
	VMULPS       32(BX), Y8, Y10
	VMULPS       64(BX), Y8, Y11
	VMULPS       96(BX), Y8, Y12
	VADDPS       Y9, Y0, Y0
	VADDPS       Y10, Y1, Y1
	VADDPS       Y11, Y2, Y2
	VADDPS       Y12, Y3, Y3
	VMULPS       128(BX), Y8, Y9
	VMULPS       160(BX), Y8, Y10
	VMULPS       192(BX), Y8, Y11
	VMULPS       224(BX), Y8, Y12
	VADDPS       Y9, Y4, Y4
	VADDPS       Y10, Y5, Y5
	VADDPS       Y11, Y6, Y6
	VADDPS       Y12, Y7, Y7
	ADDQ         R10, BX
	INCQ         CX
	JMP          dy64d

dy64s:
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	VMOVUPS Y4, 128(DI)(AX*4)
	VMOVUPS Y5, 160(DI)(AX*4)
	VMOVUPS Y6, 192(DI)(AX*4)
	VMOVUPS Y7, 224(DI)(AX*4)
	MOVQ    R11, AX
	JMP     dy64

dy8:
	LEAQ   8(AX), R11
	CMPQ   R11, R8
	JG     dydone
	VXORPS Y0, Y0, Y0
	LEAQ   (DX)(AX*4), BX
	XORQ   CX, CX

dy8d:
	CMPQ         CX, R9
	JGE          dy8s
	VBROADCASTSS (SI)(CX*4), Y8
	VMULPS       (BX), Y8, Y9
	VADDPS       Y9, Y0, Y0
	ADDQ         R10, BX
	INCQ         CX
	JMP          dy8d

dy8s:
	VMOVUPS Y0, (DI)(AX*4)
	MOVQ    R11, AX
	JMP     dy8

dydone:
	VZEROUPPER
	RET
