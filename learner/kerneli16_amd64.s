#include "textflag.h"
#include "kernel512.h"

// The integer products of the field encoder's unary terms (see
// quant16.go): exact int32 sums of int16 pairs, then one rounding to
// float32 and two exact scalings, as unaryPanel does in Go.

// STOREI16Z sets the 16 values at DI to Z10 - float32(A)*Z11*mr[OFF/4]
// (mr at AX) and moves DI to the next row.
#define STOREI16Z(A, OFF) \
	VCVTDQ2PS   A, A;          \
	VMULPS      Z11, A, A;     \
	VMULPS.BCST OFF(AX), A, A; \
	VSUBPS      A, Z10, A;     \
	VMOVUPS     A, (DI);       \
	ADDQ        R8, DI

// DOT8Z adds by OP (VNNI) the products of the panel's next step at BX with
// the 8 rows' (SI and R12 rows 0 and 3, R9 a row's bytes, R11 three rows')
// into Z0 to Z7.
#define DOT8Z(OP) \
	VMOVDQU32 (BX), Z8; \
	OP.BCST   (SI), Z8, Z0; \
	OP.BCST   (SI)(R9*1), Z8, Z1; \
	OP.BCST   (SI)(R9*2), Z8, Z2; \
	OP.BCST   (R12), Z8, Z3; \
	OP.BCST   (SI)(R9*4), Z8, Z4; \
	OP.BCST   (R12)(R9*2), Z8, Z5; \
	OP.BCST   (SI)(R11*2), Z8, Z6; \
	OP.BCST   (R12)(R9*4), Z8, Z7

// STORE8Z stores the 8 rows' terms from their sums Z0 to Z7 (see STOREI16Z).
#define STORE8Z \
	MOVQ    nm_base+88(FP), AX; \
	VMOVUPS (AX), Z10; \
	MOVQ    mul_base+112(FP), AX; \
	VMOVUPS (AX), Z11; \
	MOVQ    mr_base+136(FP), AX; \
	STOREI16Z(Z0, 0); \
	STOREI16Z(Z1, 4); \
	STOREI16Z(Z2, 8); \
	STOREI16Z(Z3, 12); \
	STOREI16Z(Z4, 16); \
	STOREI16Z(Z5, 20); \
	STOREI16Z(Z6, 24); \
	STOREI16Z(Z7, 28)

// func unaryI16VNNI(out []float32, stride int, xq []int16, Dp int, p []int16, nm, mul, mr []float32)
//
// 8 rows and a panel of 16 codewords: a row's 16 sums in the lanes of one
// register, VPDPWSSD adding the products of a pair of dimensions of the row
// (broadcast) with the panel's 16 pairs. Then out[r*stride+k] = nm[k] -
// float32(sum)*mul[k]*mr[r].
// Registers: DI out, R8 stride*4, SI R12 the rows of x (0 and 3), R9 a
// row's bytes, R11 three rows', BX the panel, CX the pairs left.
TEXT ·unaryI16VNNI(SB), NOSPLIT, $0-160
	MOVQ out_base+0(FP), DI
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ xq_base+32(FP), SI
	MOVQ Dp+56(FP), R9
	MOVQ R9, CX
	SHRQ $1, CX
	SHLQ $1, R9
	MOVQ p_base+64(FP), BX
	LEAQ (R9)(R9*2), R11
	LEAQ (SI)(R11*1), R12
	ZERO8Z

vpair:
	TESTQ         CX, CX
	JE            vstore
	DOT8Z(VPDPWSSD)
	ADDQ          $64, BX
	ADDQ          $4, SI
	ADDQ          $4, R12
	DECQ          CX
	JMP           vpair

vstore:
	STORE8Z
	VZEROUPPER
	RET

// ROWI16 adds to A0 and A1 the products of a pair of dimensions of the row
// at XA (broadcast) with the panel's 16 pairs in Y8 and Y9.
#define ROWI16(XA, A0, A1) \
	VPBROADCASTD XA, Y10;    \
	VPMADDWD     Y8, Y10, Y11; \
	VPADDD       Y11, A0, A0; \
	VPMADDWD     Y9, Y10, Y11; \
	VPADDD       Y11, A1, A1

// STOREI16Y sets the 16 values at DI to Y12:Y13 - float32(A0:A1) *
// Y14:Y15 * mr[OFF/4] (mr at AX) and moves DI to the next row.
#define STOREI16Y(A0, A1, OFF) \
	VBROADCASTSS OFF(AX), Y10; \
	VCVTDQ2PS    A0, A0;       \
	VMULPS       Y14, A0, A0;  \
	VMULPS       Y10, A0, A0;  \
	VSUBPS       A0, Y12, A0;  \
	VMOVUPS      A0, (DI);     \
	VCVTDQ2PS    A1, A1;       \
	VMULPS       Y15, A1, A1;  \
	VMULPS       Y10, A1, A1;  \
	VSUBPS       A1, Y13, A1;  \
	VMOVUPS      A1, 32(DI);   \
	ADDQ         R8, DI

// func unaryI16AVX2(out []float32, stride int, xq []int16, Dp int, p []int16, nm, mul, mr []float32)
//
// unaryI16VNNI for 4 rows in AVX2: VPMADDWD and VPADDD, the same exact
// sums. Registers as there; R12 is row 3.
TEXT ·unaryI16AVX2(SB), NOSPLIT, $0-160
	MOVQ out_base+0(FP), DI
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ xq_base+32(FP), SI
	MOVQ Dp+56(FP), R9
	MOVQ R9, CX
	SHRQ $1, CX
	SHLQ $1, R9
	MOVQ p_base+64(FP), BX
	LEAQ (R9)(R9*2), R11
	LEAQ (SI)(R11*1), R12
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7

ypair:
	TESTQ   CX, CX
	JE      ystore
	VMOVDQU (BX), Y8
	VMOVDQU 32(BX), Y9
	ROWI16((SI), Y0, Y1)
	ROWI16((SI)(R9*1), Y2, Y3)
	ROWI16((SI)(R9*2), Y4, Y5)
	ROWI16((R12), Y6, Y7)
	ADDQ    $64, BX
	ADDQ    $4, SI
	ADDQ    $4, R12
	DECQ    CX
	JMP     ypair

ystore:
	MOVQ    nm_base+88(FP), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	MOVQ    mul_base+112(FP), AX
	VMOVUPS (AX), Y14
	VMOVUPS 32(AX), Y15
	MOVQ    mr_base+136(FP), AX
	STOREI16Y(Y0, Y1, 0)
	STOREI16Y(Y2, Y3, 4)
	STOREI16Y(Y4, Y5, 8)
	STOREI16Y(Y6, Y7, 12)
	VZEROUPPER
	RET

// func unaryI8VNNI(out []float32, stride int, x8 []int8, Dq int, p8 []uint8, nm, mul, mr []float32, corr []int32, panels int)
//
// unaryI16VNNI from bytes, for panels panels of 16 codewords in turn (p8's
// one after another; out, nm and mul move 16 values a panel, nm_base and
// mul_base in their slots, where STORE8Z reads them): VPDPBUSD adds the
// products of four dimensions of the row (signed, broadcast) with the
// panel's 16 codewords' four (unsigned: each value plus 128), four pairs
// an instruction where VPDPWSSD takes two; then each row's sums less
// corr[r], 128 times the sum of its values, are the same exact sums. (A
// Go loop of calls, a panel each, showed 0.54 s of CPU beside the kernel's
// 4.9 s in an 8x256 run's profile; in one call the two took 5.3 s, within
// the runs' noise.)
// Registers as there, R9 a row's bytes, R10 the panels left, R13 the
// panel's out.
TEXT ·unaryI8VNNI(SB), NOSPLIT, $0-192
	MOVQ out_base+0(FP), R13
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ Dq+56(FP), R9
	MOVQ p8_base+64(FP), BX
	LEAQ (R9)(R9*2), R11
	MOVQ panels+184(FP), R10

v8panel:
	TESTQ  R10, R10
	JE     v8pdone
	MOVQ   x8_base+32(FP), SI
	LEAQ   (SI)(R11*1), R12
	MOVQ   R9, CX
	SHRQ   $2, CX
	ZERO8Z

v8pquad:
	TESTQ         CX, CX
	JE            v8pstore
	DOT8Z(VPDPBUSD)
	ADDQ          $64, BX
	ADDQ          $4, SI
	ADDQ          $4, R12
	DECQ          CX
	JMP           v8pquad

v8pstore:
	MOVQ        corr_base+160(FP), DX
	VPSUBD.BCST (DX), Z0, Z0
	VPSUBD.BCST 4(DX), Z1, Z1
	VPSUBD.BCST 8(DX), Z2, Z2
	VPSUBD.BCST 12(DX), Z3, Z3
	VPSUBD.BCST 16(DX), Z4, Z4
	VPSUBD.BCST 20(DX), Z5, Z5
	VPSUBD.BCST 24(DX), Z6, Z6
	VPSUBD.BCST 28(DX), Z7, Z7
	MOVQ        R13, DI
	STORE8Z
	ADDQ        $64, R13
	ADDQ        $64, nm_base+88(FP)
	ADDQ        $64, mul_base+112(FP)
	DECQ        R10
	JMP         v8panel

v8pdone:
	VZEROUPPER
	RET
