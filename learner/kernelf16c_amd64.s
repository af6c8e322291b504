#include "textflag.h"
#include "kernelavx2.h"

// The AVX2 and F16C kernels of the ICM over float16 cross terms: the
// field, its updates, a run of visits, the least of a vector and the
// rounding to float16 (kernel512_amd64.s has the AVX-512 forms).

// ADDDIFF32 sets F[I:I+32] += A[I:I+32] - B[I:I+32] for float32 F and
// float16 A and B (widened exactly by F16C; I an index register), and
// ADDDIFF8 the same for 8 values.
#define ADDDIFF32(A, B, F, I) \
	VCVTPH2PS (A)(I*2), Y5;    \
	VCVTPH2PS 16(A)(I*2), Y6;  \
	VCVTPH2PS 32(A)(I*2), Y7;  \
	VCVTPH2PS 48(A)(I*2), Y8;  \
	VCVTPH2PS (B)(I*2), Y9;    \
	VCVTPH2PS 16(B)(I*2), Y10; \
	VCVTPH2PS 32(B)(I*2), Y11; \
	VCVTPH2PS 48(B)(I*2), Y12; \
	VSUBPS    Y9, Y5, Y5;      \
	VSUBPS    Y10, Y6, Y6;     \
	VSUBPS    Y11, Y7, Y7;     \
	VSUBPS    Y12, Y8, Y8;     \
	VADDPS    (F)(I*4), Y5, Y5;   \
	VADDPS    32(F)(I*4), Y6, Y6; \
	VADDPS    64(F)(I*4), Y7, Y7; \
	VADDPS    96(F)(I*4), Y8, Y8; \
	VMOVUPS   Y5, (F)(I*4);       \
	VMOVUPS   Y6, 32(F)(I*4);     \
	VMOVUPS   Y7, 64(F)(I*4);     \
	VMOVUPS   Y8, 96(F)(I*4)

#define ADDDIFF8(A, B, F, I) \
	VCVTPH2PS (A)(I*2), Y5;   \
	VCVTPH2PS (B)(I*2), Y9;   \
	VSUBPS    Y9, Y5, Y5;     \
	VADDPS    (F)(I*4), Y5, Y5; \
	VMOVUPS   Y5, (F)(I*4)

// func addDiffF16C(f []float32, a, b []uint16)
TEXT ·addDiffF16C(SB), NOSPLIT, $0-72
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	XORQ AX, AX

loop32:
	CMPQ CX, $32
	JL   loop8
	ADDDIFF32(SI, DX, DI, AX)
	ADDQ    $32, AX
	SUBQ    $32, CX
	JMP     loop32

loop8:
	CMPQ CX, $8
	JL   done
	ADDDIFF8(SI, DX, DI, AX)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     loop8

done:
	VZEROUPPER
	RET

// func minIndexAVX2(v []float32) int
TEXT ·minIndexAVX2(SB), NOSPLIT, $0-32
	MOVQ v_base+0(FP), SI
	MOVQ v_len+8(FP), CX
	VMOVUPS (SI), Y0
	MOVQ $8, AX

minloop:
	CMPQ AX, CX
	JGE  reduce
	VMINPS (SI)(AX*4), Y0, Y0
	ADDQ   $8, AX
	JMP    minloop

reduce:
	MINLANES
	XORQ         AX, AX

findloop:
	CMPQ      AX, CX
	JGE       notfound
	VCMPPS    $0, (SI)(AX*4), Y2, Y3
	VMOVMSKPS Y3, DX
	TESTL     DX, DX
	JNZ       found
	ADDQ      $8, AX
	JMP       findloop

found:
	BSFL DX, DX
	ADDQ DX, AX
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

notfound:
	MOVQ $0, ret+24(FP)
	VZEROUPPER
	RET

// func icmRunF16C(f []float32, P []uint16, b []uint16, K, visits int)
//
// Registers: DI f, SI P, BX b, R8 M, R9 K, R10 m, R11 the visits since
// the last change (counting it), R12 &f[m*K], R15 the bytes of a row of P
// (M*K*2); visits counts down in its slot; AX, DX, R13, R14 scratch.
TEXT ·icmRunF16C(SB), NOSPLIT, $0-88
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), R15
	SHLQ $1, R15
	MOVQ P_base+24(FP), SI
	MOVQ b_base+48(FP), BX
	MOVQ b_len+56(FP), R8
	MOVQ K+72(FP), R9
	XORQ R10, R10
	XORQ R11, R11
	MOVQ DI, R12

mloop:
	CMPQ  R11, R8
	JGE   sweepdone
	MOVQ  visits+80(FP), AX
	TESTQ AX, AX
	JLE   sweepdone
	DECQ  AX
	MOVQ  AX, visits+80(FP)
	INCQ  R11

	ICMVISITAVX2

	// b[m] = k; f += P[m*K+k] - P[m*K+c] (block m of both rows is zero).
	MOVW  AX, (BX)(R10*2)
	MOVQ  $1, R11
	MOVQ  R10, R13
	IMULQ R9, R13
	ADDQ  R13, AX
	IMULQ R15, AX
	ADDQ  SI, AX
	ADDQ  R13, DX
	IMULQ R15, DX
	ADDQ  SI, DX
	MOVQ  R15, R13
	SHRQ  $1, R13
	XORQ  R14, R14

sup32:
	CMPQ    R13, $32
	JL      sup8
	ADDDIFF32(AX, DX, DI, R14)
	ADDQ    $32, R14
	SUBQ    $32, R13
	JMP     sup32

sup8:
	CMPQ    R13, $8
	JL      snext
	ADDDIFF8(AX, DX, DI, R14)
	ADDQ    $8, R14
	SUBQ    $8, R13
	JMP     sup8

snext:
	INCQ R10
	LEAQ (R12)(R9*4), R12
	CMPQ R10, R8
	JL   mloop
	XORQ R10, R10
	MOVQ DI, R12
	JMP  mloop

sweepdone:
	VZEROUPPER
	RET

// func fieldF16C(f, u []float32, P []uint16, off []int)
//
// Registers: DI f, SI u, DX P, R8 off, R9 len(off), CX the elements left,
// R11 the group's first element j, R13 m, AX scratch.
TEXT ·fieldF16C(SB), NOSPLIT, $0-96
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), CX
	MOVQ u_base+24(FP), SI
	MOVQ P_base+48(FP), DX
	MOVQ off_base+72(FP), R8
	MOVQ off_len+80(FP), R9
	XORQ R11, R11

fg64:
	CMPQ    CX, $64
	JL      fg8
	VMOVUPS (SI)(R11*4), Y0
	VMOVUPS 32(SI)(R11*4), Y1
	VMOVUPS 64(SI)(R11*4), Y2
	VMOVUPS 96(SI)(R11*4), Y3
	VMOVUPS 128(SI)(R11*4), Y4
	VMOVUPS 160(SI)(R11*4), Y5
	VMOVUPS 192(SI)(R11*4), Y6
	VMOVUPS 224(SI)(R11*4), Y7
	XORQ    R13, R13

fg64m:
	CMPQ      R13, R9
	JGE       fg64s
	MOVQ      (R8)(R13*8), AX
	ADDQ      R11, AX
	VCVTPH2PS (DX)(AX*2), Y8
	VCVTPH2PS 16(DX)(AX*2), Y9
	VCVTPH2PS 32(DX)(AX*2), Y10
	VCVTPH2PS 48(DX)(AX*2), Y11
	VCVTPH2PS 64(DX)(AX*2), Y12
	VCVTPH2PS 80(DX)(AX*2), Y13
	VCVTPH2PS 96(DX)(AX*2), Y14
	VCVTPH2PS 112(DX)(AX*2), Y15
	VADDPS    Y8, Y0, Y0
	VADDPS    Y9, Y1, Y1
	VADDPS    Y10, Y2, Y2
	VADDPS    Y11, Y3, Y3
	VADDPS    Y12, Y4, Y4
	VADDPS    Y13, Y5, Y5
	VADDPS    Y14, Y6, Y6
	VADDPS    Y15, Y7, Y7
	INCQ      R13
	JMP       fg64m

fg64s:
	VMOVUPS Y0, (DI)(R11*4)
	VMOVUPS Y1, 32(DI)(R11*4)
	VMOVUPS Y2, 64(DI)(R11*4)
	VMOVUPS Y3, 96(DI)(R11*4)
	VMOVUPS Y4, 128(DI)(R11*4)
	VMOVUPS Y5, 160(DI)(R11*4)
	VMOVUPS Y6, 192(DI)(R11*4)
	VMOVUPS Y7, 224(DI)(R11*4)
	ADDQ    $64, R11
	SUBQ    $64, CX
	JMP     fg64

fg8:
	CMPQ    CX, $8
	JL      fdone
	VMOVUPS (SI)(R11*4), Y0
	XORQ    R13, R13

fg8m:
	CMPQ      R13, R9
	JGE       fg8s
	MOVQ      (R8)(R13*8), AX
	ADDQ      R11, AX
	VCVTPH2PS (DX)(AX*2), Y8
	VADDPS    Y8, Y0, Y0
	INCQ      R13
	JMP       fg8m

fg8s:
	VMOVUPS Y0, (DI)(R11*4)
	ADDQ    $8, R11
	SUBQ    $8, CX
	JMP     fg8

fdone:
	VZEROUPPER
	RET

// func toHalvesF16C(dst []uint16, src []float32)
TEXT ·toHalvesF16C(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	XORQ AX, AX

thloop:
	CMPQ      AX, CX
	JGE       thdone
	VMOVUPS   (SI)(AX*4), Y0
	VCVTPS2PH $0, Y0, (DI)(AX*2)
	ADDQ      $8, AX
	JMP       thloop

thdone:
	VZEROUPPER
	RET
