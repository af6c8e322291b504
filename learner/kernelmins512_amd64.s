#include "textflag.h"
#include "kernel512.h"

// The AVX-512 ICM for K >= minsK (see icmRun).

// func icmRunMins512(f []float32, P, b []uint16, mins []float32, K, visits int)
//
// The least field of every codebook is kept in mins: taken once, then
// brought up to date by each change's update as it writes the field, so
// that a visit that changes nothing compares two values instead of
// reading the codebook's K fields. Registers: DI f, SI P, BX b, CX mins,
// R8 M, R9 K, R10 m, R11 the visits since the last change (counting it),
// R12 &f[m*K], R15 the bytes of a row of P (M*K*2), Z15 +Inf; visits counts
// down in its slot; AX, DX, R13, R14 scratch.
TEXT ·icmRunMins512(SB), NOSPLIT, $0-112
	MOVQ         f_base+0(FP), DI
	MOVQ         f_len+8(FP), R15
	SHLQ         $1, R15
	MOVQ         P_base+24(FP), SI
	MOVQ         b_base+48(FP), BX
	MOVQ         b_len+56(FP), R8
	MOVQ         mins_base+72(FP), CX
	MOVQ         K+96(FP), R9
	MOVL         $0x7f800000, AX
	VPBROADCASTD AX, Z15
	XORQ         R10, R10
	MOVQ         DI, R12

	ICMMINSINIT
	XORQ R10, R10
	XORQ R11, R11
	MOVQ DI, R12

zm:
	CMPQ  R11, R8
	JGE   zdone
	MOVQ  visits+104(FP), AX
	TESTQ AX, AX
	JLE   zdone
	DECQ  AX
	MOVQ  AX, visits+104(FP)
	INCQ  R11

	ICMMINSVISIT

	// b[m] = k; f += P[m*K+k] - P[m*K+c] outside block m, which is zero
	// in both rows (skipping it spares 1/M of the bytes a change reads),
	// each other block's least field taken as it is written.
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
	XORQ  R14, R14

zub:
	LEAQ    (DI)(R14*4), R13
	CMPQ    R13, R12
	JEQ     zuown
	MOVQ    R9, R13
	VMOVAPS Z15, Z3
	VMOVAPS Z15, Z13

zub64:
	CMPQ       R13, $64
	JL         zub16
	ADDDIFF64Z(AX, DX, DI, R14)
	VMINPS     Z5, Z3, Z3
	VMINPS     Z6, Z13, Z13
	VMINPS     Z7, Z3, Z3
	VMINPS     Z8, Z13, Z13
	ADDQ       $64, R14
	SUBQ       $64, R13
	JMP        zub64

zub16:
	CMPQ       R13, $16
	JL         zubmin
	ADDDIFF16Z(AX, DX, DI, R14)
	VMINPS     Z5, Z3, Z3
	ADDQ       $16, R14
	SUBQ       $16, R13
	JMP        zub16

zubmin:
	VMINPS Z13, Z3, Z0
	HMIN
	VMOVSS X0, (CX)
	JMP    zubnext

zuown:
	ADDQ R9, R14

zubnext:
	ADDQ $4, CX
	LEAQ (R14)(R14*1), R13
	CMPQ R13, R15
	JL   zub
	MOVQ mins_base+72(FP), CX

znext:
	INCQ R10
	LEAQ (R12)(R9*4), R12
	CMPQ R10, R8
	JL   zm
	XORQ R10, R10
	MOVQ DI, R12
	JMP  zm

zdone:
	VZEROUPPER
	RET
