#include "textflag.h"
#include "kernel512.h"

// func codewordSum512(s, cb []float32, code []uint16, K, D int, tail uint16)
//
// codewordSum for all of s by AVX-512: 128 sums in registers, then 16,
// then the last len(s)%16 under the mask tail. The same sums in the same
// order as codewordSumAVX2.
// Registers: DI s, SI cb, BX code, R8 M, R9 K, CX the elements left, R10
// D*4, R11 the group's first element j, R13 m, AX DX scratch, K1 tail.
TEXT ·codewordSum512(SB), NOSPLIT, $0-90
	MOVQ   s_base+0(FP), DI
	MOVQ   s_len+8(FP), CX
	MOVQ   cb_base+24(FP), SI
	MOVQ   code_base+48(FP), BX
	MOVQ   code_len+56(FP), R8
	MOVQ   K+72(FP), R9
	MOVQ   D+80(FP), R10
	SHLQ   $2, R10
	MOVWLZX tail+88(FP), AX
	KMOVW  AX, K1
	XORQ   R11, R11

ws128:
	CMPQ   CX, $128
	JL     ws16
	ZERO8Z
	XORQ   R13, R13
	MOVQ   SI, DX

ws128m:
	CMPQ    R13, R8
	JGE     ws128s
	MOVWQZX (BX)(R13*2), AX
	IMULQ   R10, AX
	ADDQ    DX, AX
	VADDPS  (AX)(R11*4), Z0, Z0
	VADDPS  64(AX)(R11*4), Z1, Z1
	VADDPS  128(AX)(R11*4), Z2, Z2
	VADDPS  192(AX)(R11*4), Z3, Z3
	VADDPS  256(AX)(R11*4), Z4, Z4
	VADDPS  320(AX)(R11*4), Z5, Z5
	VADDPS  384(AX)(R11*4), Z6, Z6
	VADDPS  448(AX)(R11*4), Z7, Z7
	MOVQ    R9, AX
	IMULQ   R10, AX
	ADDQ    AX, DX
	INCQ    R13
	JMP     ws128m

ws128s:
	STORE8Z128(DI, R11)
	ADDQ    $128, R11
	SUBQ    $128, CX
	JMP     ws128

	// Up to 7 groups of 16 and the masked rest, each codeword's row
	// address computed once for all of them.
ws16:
	ZERO8Z
	XORQ   R13, R13
	MOVQ   SI, DX

ws16m:
	CMPQ    R13, R8
	JGE     ws16s
	MOVWQZX (BX)(R13*2), AX
	IMULQ   R10, AX
	ADDQ    DX, AX
	LEAQ    (AX)(R11*4), AX
	CMPQ    CX, $16
	JL      wt0
	VADDPS  (AX), Z0, Z0
	CMPQ    CX, $32
	JL      wt1
	VADDPS  64(AX), Z1, Z1
	CMPQ    CX, $48
	JL      wt2
	VADDPS  128(AX), Z2, Z2
	CMPQ    CX, $64
	JL      wt3
	VADDPS  192(AX), Z3, Z3
	CMPQ    CX, $80
	JL      wt4
	VADDPS  256(AX), Z4, Z4
	CMPQ    CX, $96
	JL      wt5
	VADDPS  320(AX), Z5, Z5
	CMPQ    CX, $112
	JL      wt6
	VADDPS  384(AX), Z6, Z6
	VMOVUPS.Z 448(AX), K1, Z8
	VADDPS  Z8, Z7, Z7
	JMP     wnext
wt0:
	VMOVUPS.Z (AX), K1, Z8
	VADDPS  Z8, Z0, Z0
	JMP     wnext
wt1:
	VMOVUPS.Z 64(AX), K1, Z8
	VADDPS  Z8, Z1, Z1
	JMP     wnext
wt2:
	VMOVUPS.Z 128(AX), K1, Z8
	VADDPS  Z8, Z2, Z2
	JMP     wnext
wt3:
	VMOVUPS.Z 192(AX), K1, Z8
	VADDPS  Z8, Z3, Z3
	JMP     wnext
wt4:
	VMOVUPS.Z 256(AX), K1, Z8
	VADDPS  Z8, Z4, Z4
	JMP     wnext
wt5:
	VMOVUPS.Z 320(AX), K1, Z8
	VADDPS  Z8, Z5, Z5
	JMP     wnext
wt6:
	VMOVUPS.Z 384(AX), K1, Z8
	VADDPS  Z8, Z6, Z6

wnext:
	MOVQ    R9, AX
	IMULQ   R10, AX
	ADDQ    AX, DX
	INCQ    R13
	JMP     ws16m

ws16s:
	LEAQ    (DI)(R11*4), DI
	CMPQ    CX, $16
	JL      ws0
	VMOVUPS Z0, (DI)
	CMPQ    CX, $32
	JL      ws1
	VMOVUPS Z1, 64(DI)
	CMPQ    CX, $48
	JL      ws2
	VMOVUPS Z2, 128(DI)
	CMPQ    CX, $64
	JL      ws3
	VMOVUPS Z3, 192(DI)
	CMPQ    CX, $80
	JL      ws4
	VMOVUPS Z4, 256(DI)
	CMPQ    CX, $96
	JL      ws5
	VMOVUPS Z5, 320(DI)
	CMPQ    CX, $112
	JL      ws6
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, K1, 448(DI)
	JMP     wdone
ws0:
	VMOVUPS Z0, K1, (DI)
	JMP     wdone
ws1:
	VMOVUPS Z1, K1, 64(DI)
	JMP     wdone
ws2:
	VMOVUPS Z2, K1, 128(DI)
	JMP     wdone
ws3:
	VMOVUPS Z3, K1, 192(DI)
	JMP     wdone
ws4:
	VMOVUPS Z4, K1, 256(DI)
	JMP     wdone
ws5:
	VMOVUPS Z5, K1, 320(DI)
	JMP     wdone
ws6:
	VMOVUPS Z6, K1, 384(DI)

wdone:
	VZEROUPPER
	RET

// func scatterAdd512(b, v []float32, code []uint16, K int, tail uint16)
//
// scatterAdd by AVX-512: v's 16-value groups, the last len(v)%16 values
// under the mask tail, added into row m*K+code[m] of b (rows of len(v)) for
// each m. Registers: DI b, SI v, BX code, R8 M, R9 K*D*4, R10 D*4, CX D,
// R13 m, DX &b[m*K*D], AX the row, R11 the value j, K1 tail.
TEXT ·scatterAdd512(SB), NOSPLIT, $0-82
	MOVQ    b_base+0(FP), DX
	MOVQ    v_base+24(FP), SI
	MOVQ    v_len+32(FP), CX
	MOVQ    code_base+48(FP), BX
	MOVQ    code_len+56(FP), R8
	MOVQ    K+72(FP), R9
	MOVQ    CX, R10
	SHLQ    $2, R10
	IMULQ   R10, R9
	MOVWLZX tail+80(FP), AX
	KMOVW   AX, K1
	XORQ    R13, R13

sam:
	CMPQ    R13, R8
	JGE     sadone
	MOVWQZX (BX)(R13*2), AX
	IMULQ   R10, AX
	ADDQ    DX, AX
	XORQ    R11, R11

sa16:
	LEAQ    16(R11), DI
	CMPQ    DI, CX
	JG      satail
	VMOVUPS (SI)(R11*4), Z0
	VADDPS  (AX)(R11*4), Z0, Z0
	VMOVUPS Z0, (AX)(R11*4)
	MOVQ    DI, R11
	JMP     sa16

satail:
	CMPQ      R11, CX
	JGE       sanext
	VMOVUPS.Z (SI)(R11*4), K1, Z0
	VMOVUPS.Z (AX)(R11*4), K1, Z1
	VADDPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (AX)(R11*4)

sanext:
	ADDQ R9, DX
	INCQ R13
	JMP  sam

sadone:
	VZEROUPPER
	RET

// func sqDiff512(x, y []float32, tail uint8) float64
//
// sqDiff by AVX-512: eight differences at a time widened to float64 in Z0's
// lanes, the last len(x)%8 under the mask tail, their squares added into
// Z1; then the lanes added as sqDiff adds them. Registers: SI x, DX y, CX
// len(x), AX the value d, K1 tail.
TEXT ·sqDiff512(SB), NOSPLIT, $0-64
	MOVQ    x_base+0(FP), SI
	MOVQ    x_len+8(FP), CX
	MOVQ    y_base+24(FP), DX
	MOVBLZX tail+48(FP), AX
	KMOVW   AX, K1
	VPXORQ  Z1, Z1, Z1
	XORQ    AX, AX

sd8:
	LEAQ      8(AX), BX
	CMPQ      BX, CX
	JG        sdtail
	VCVTPS2PD (SI)(AX*4), Z0
	VCVTPS2PD (DX)(AX*4), Z2
	VSUBPD    Z2, Z0, Z0
	VMULPD    Z0, Z0, Z0
	VADDPD    Z0, Z1, Z1
	MOVQ      BX, AX
	JMP       sd8

sdtail:
	CMPQ      AX, CX
	JGE       sdsum
	VMOVUPS.Z (SI)(AX*4), K1, Y0
	VMOVUPS.Z (DX)(AX*4), K1, Y2
	VCVTPS2PD Y0, Z0
	VCVTPS2PD Y2, Z2
	VSUBPD    Z2, Z0, Z0
	VMULPD    Z0, Z0, Z0
	VADDPD    Z0, Z1, Z1

sdsum:
	// ((0+4) + (2+6)) + ((1+5) + (3+7)).
	VEXTRACTF64X4 $1, Z1, Y2
	VADDPD        Y2, Y1, Y1 // lanes 0+4, 1+5, 2+6, 3+7
	VEXTRACTF128  $1, Y1, X2
	VADDPD        X2, X1, X1 // (0+4)+(2+6), (1+5)+(3+7)
	VPERMILPD     $1, X1, X2
	VADDSD        X2, X1, X1
	VMOVSD        X1, ret+56(FP)
	VZEROUPPER
	RET
