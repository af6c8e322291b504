#include "textflag.h"

// The ICM's sweep, field and field update in AVX-512 (the same
// comparisons, minima and float32 sums as the F16C kernels, sixteen lanes
// an instruction), and the sum of a row's codewords in AVX2.

#include "kernel512.h"

// UPDATE512 adds to f (DI), M*K = R13 values, row A less row B, from index
// R14 = 0; L names its labels.
#define UPDATE512(A, B, L64, L16, LEND) \
L64:                                   \
	CMPQ       R13, $64;               \
	JL         L16;                    \
	ADDDIFF64Z(A, B, DI, R14);         \
	ADDQ       $64, R14;               \
	SUBQ       $64, R13;               \
	JMP        L64;                    \
L16:                                   \
	CMPQ       R13, $16;               \
	JL         LEND;                   \
	ADDDIFF16Z(A, B, DI, R14);         \
	ADDQ       $16, R14;               \
	SUBQ       $16, R13;               \
	JMP        L16

// func addDiff512(f []float32, a, b []uint16)
TEXT ·addDiff512(SB), NOSPLIT, $0-72
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), R13
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	XORQ R14, R14
	UPDATE512(SI, DX, ad64, ad16, addone)

addone:
	VZEROUPPER
	RET

// func icmRun512(f []float32, P, b []uint16, K, visits int)
//
// Registers: DI f, SI P, BX b, R8 M, R9 K, R10 m, R11 the visits since
// the last change (counting it), R12 &f[m*K], R15 the bytes of a row of P
// (M*K*2); visits counts down in its slot; AX, DX, R13, R14 scratch; K1 to K4
// the tests' masks.
TEXT ·icmRun512(SB), NOSPLIT, $0-88
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

zm:
	CMPQ  R11, R8
	JGE   zdone
	MOVQ  visits+80(FP), AX
	TESTQ AX, AX
	JLE   zdone
	DECQ  AX
	MOVQ  AX, visits+80(FP)
	INCQ  R11

	// Whether any code's field is below the current one's, 32 codes a
	// step in two masks.
	MOVWQZX      (BX)(R10*2), DX
	VBROADCASTSS (R12)(DX*4), Z2
	KXORW        K1, K1, K1
	KXORW        K2, K2, K2
	XORQ         AX, AX

zany32:
	LEAQ   32(AX), R13
	CMPQ   R13, R9
	JG     zany
	VCMPPS $0x1e, (R12)(AX*4), Z2, K3   // f[c] > f[k], ordered
	VCMPPS $0x1e, 64(R12)(AX*4), Z2, K4
	KORW   K3, K1, K1
	KORW   K4, K2, K2
	MOVQ   R13, AX
	JMP    zany32

zany:
	CMPQ   AX, R9
	JGE    zanyd
	VCMPPS $0x1e, (R12)(AX*4), Z2, K3
	KORW   K3, K1, K1
	ADDQ   $16, AX
	JMP    zany

zanyd:
	KORTESTW K1, K2
	JZ       znext

	// The least field in four chains of 64 codes a step, then its first
	// code (-0 equals 0 there).
	VMOVUPS (R12), Z0
	MOVQ    $16, AX
	CMPQ    R9, $64
	JL      zmin
	VMOVUPS 64(R12), Z1
	VMOVUPS 128(R12), Z6
	VMOVUPS 192(R12), Z7
	MOVQ    $64, AX

zmin64:
	LEAQ   64(AX), R13
	CMPQ   R13, R9
	JG     zmin64d
	VMINPS (R12)(AX*4), Z0, Z0
	VMINPS 64(R12)(AX*4), Z1, Z1
	VMINPS 128(R12)(AX*4), Z6, Z6
	VMINPS 192(R12)(AX*4), Z7, Z7
	MOVQ   R13, AX
	JMP    zmin64

zmin64d:
	VMINPS Z1, Z0, Z0
	VMINPS Z7, Z6, Z6
	VMINPS Z6, Z0, Z0

zmin:
	CMPQ   AX, R9
	JGE    zred
	VMINPS (R12)(AX*4), Z0, Z0
	ADDQ   $16, AX
	JMP    zmin

zred:
	VEXTRACTF32X8 $1, Z0, Y1
	VMINPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMINPS        X1, X0, X0
	VPERMILPS     $0x4E, X0, X1
	VMINPS        X1, X0, X0
	VPERMILPS     $0xB1, X0, X1
	VMINPS        X1, X0, X0
	VBROADCASTSS  X0, Z2
	XORQ          AX, AX

zfind:
	CMPQ   AX, R9
	JGE    znext
	VCMPPS $0, (R12)(AX*4), Z2, K3
	KMOVW  K3, DX
	TESTL  DX, DX
	JNZ    zfound
	ADDQ   $16, AX
	JMP    zfind

zfound:
	BSFL     DX, DX
	ADDQ     DX, AX
	MOVWQZX  (BX)(R10*2), DX
	CMPQ     AX, DX
	JEQ      znext
	VMOVSS   (R12)(AX*4), X4
	VUCOMISS (R12)(DX*4), X4
	JCC      znext

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
	UPDATE512(AX, DX, zup64, zup16, znext)

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

// func field512(f, u []float32, P []uint16, off []int)
//
// fieldF16C with 128 sums in registers, then 16 at a time.
// Registers: DI f, SI u, DX P, R8 off, R9 len(off), CX the elements left,
// R11 the group's first element j, R13 m, AX scratch.
TEXT ·field512(SB), NOSPLIT, $0-96
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), CX
	MOVQ u_base+24(FP), SI
	MOVQ P_base+48(FP), DX
	MOVQ off_base+72(FP), R8
	MOVQ off_len+80(FP), R9
	XORQ R11, R11

zf128:
	CMPQ    CX, $128
	JL      zf16
	VMOVUPS (SI)(R11*4), Z0
	VMOVUPS 64(SI)(R11*4), Z1
	VMOVUPS 128(SI)(R11*4), Z2
	VMOVUPS 192(SI)(R11*4), Z3
	VMOVUPS 256(SI)(R11*4), Z4
	VMOVUPS 320(SI)(R11*4), Z5
	VMOVUPS 384(SI)(R11*4), Z6
	VMOVUPS 448(SI)(R11*4), Z7
	XORQ    R13, R13

zf128m:
	CMPQ      R13, R9
	JGE       zf128s
	MOVQ      (R8)(R13*8), AX
	ADDQ      R11, AX
	VCVTPH2PS (DX)(AX*2), Z8
	VCVTPH2PS 32(DX)(AX*2), Z9
	VCVTPH2PS 64(DX)(AX*2), Z10
	VCVTPH2PS 96(DX)(AX*2), Z11
	VCVTPH2PS 128(DX)(AX*2), Z12
	VCVTPH2PS 160(DX)(AX*2), Z13
	VCVTPH2PS 192(DX)(AX*2), Z14
	VCVTPH2PS 224(DX)(AX*2), Z15
	VADDPS    Z8, Z0, Z0
	VADDPS    Z9, Z1, Z1
	VADDPS    Z10, Z2, Z2
	VADDPS    Z11, Z3, Z3
	VADDPS    Z12, Z4, Z4
	VADDPS    Z13, Z5, Z5
	VADDPS    Z14, Z6, Z6
	VADDPS    Z15, Z7, Z7
	INCQ      R13
	JMP       zf128m

zf128s:
	STORE8Z128(DI, R11)
	ADDQ    $128, R11
	SUBQ    $128, CX
	JMP     zf128

zf16:
	CMPQ    CX, $16
	JL      zfdone
	VMOVUPS (SI)(R11*4), Z0
	XORQ    R13, R13

zf16m:
	CMPQ      R13, R9
	JGE       zf16s
	MOVQ      (R8)(R13*8), AX
	ADDQ      R11, AX
	VCVTPH2PS (DX)(AX*2), Z8
	VADDPS    Z8, Z0, Z0
	INCQ      R13
	JMP       zf16m

zf16s:
	VMOVUPS Z0, (DI)(R11*4)
	ADDQ    $16, R11
	SUBQ    $16, CX
	JMP     zf16

zfdone:
	VZEROUPPER
	RET

// func codewordSumAVX2(s, cb []float32, code []uint16, K, D int)
//
// s[j] = 0 + cb[(0*K+code[0])*D+j] + cb[(1*K+code[1])*D+j] + ... for j <
// len(s), a multiple of 8: 64 sums in registers, then 8.
// Registers: DI s, SI cb, BX code, R8 M, R9 K, CX the elements left,
// R10 D*4, R11 the group's first element j, R13 m, AX DX scratch.
TEXT ·codewordSumAVX2(SB), NOSPLIT, $0-88
	MOVQ s_base+0(FP), DI
	MOVQ s_len+8(FP), CX
	MOVQ cb_base+24(FP), SI
	MOVQ code_base+48(FP), BX
	MOVQ code_len+56(FP), R8
	MOVQ K+72(FP), R9
	MOVQ D+80(FP), R10
	SHLQ $2, R10
	XORQ R11, R11

cs64:
	CMPQ   CX, $64
	JL     cs8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   R13, R13
	MOVQ   SI, DX

cs64m:
	CMPQ    R13, R8
	JGE     cs64s
	MOVWQZX (BX)(R13*2), AX
	IMULQ   R10, AX
	ADDQ    DX, AX
	VADDPS  (AX)(R11*4), Y0, Y0
	VADDPS  32(AX)(R11*4), Y1, Y1
	VADDPS  64(AX)(R11*4), Y2, Y2
	VADDPS  96(AX)(R11*4), Y3, Y3
	VADDPS  128(AX)(R11*4), Y4, Y4
	VADDPS  160(AX)(R11*4), Y5, Y5
	VADDPS  192(AX)(R11*4), Y6, Y6
	VADDPS  224(AX)(R11*4), Y7, Y7
	MOVQ    R9, AX
	IMULQ   R10, AX
	ADDQ    AX, DX               // the next codebook's first codeword
	INCQ    R13
	JMP     cs64m

cs64s:
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
	JMP     cs64

cs8:
	CMPQ   CX, $8
	JL     csdone
	VXORPS Y0, Y0, Y0
	XORQ   R13, R13
	MOVQ   SI, DX

cs8m:
	CMPQ    R13, R8
	JGE     cs8s
	MOVWQZX (BX)(R13*2), AX
	IMULQ   R10, AX
	ADDQ    DX, AX
	VADDPS  (AX)(R11*4), Y0, Y0
	MOVQ    R9, AX
	IMULQ   R10, AX
	ADDQ    AX, DX
	INCQ    R13
	JMP     cs8m

cs8s:
	VMOVUPS Y0, (DI)(R11*4)
	ADDQ    $8, R11
	SUBQ    $8, CX
	JMP     cs8

csdone:
	VZEROUPPER
	RET

// func dotsCols512(out []float32, x []float32, cols []float32, n int)
//
// out[j] = sum over d of x[d]*cols[d*n+j], for j < len(out) (a multiple of
// 16), each product rounded, then added in order of d from 0 (as
// dotsColsGeneric): 128 columns at a time in Z0 to Z7, then 16.
// Registers: DI out, SI x, DX cols, R8 len(out), R9 len(x), R10 n*4,
// AX the column, BX &cols[d*n+j], CX d.
TEXT ·dotsCols512(SB), NOSPLIT, $0-80
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), R8
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), R9
	MOVQ cols_base+48(FP), DX
	MOVQ n+72(FP), R10
	SHLQ $2, R10
	XORQ AX, AX

dc128:
	LEAQ   128(AX), R11
	CMPQ   R11, R8
	JG     dc16
	ZERO8Z
	LEAQ   (DX)(AX*4), BX
	XORQ   CX, CX

dc128d:
	CMPQ         CX, R9
	JGE          dc128s
	VBROADCASTSS (SI)(CX*4), Z8
	VMULPS       (BX), Z8, Z9
	VMULPS       64(BX), Z8, Z10
	VMULPS       128(BX), Z8, Z11
	VMULPS       192(BX), Z8, Z12
	VMULPS       256(BX), Z8, Z13
	VMULPS       320(BX), Z8, Z14
	VMULPS       384(BX), Z8, Z15
	VMULPS       448(BX), Z8, Z16
	VADDPS       Z9, Z0, Z0
	VADDPS       Z10, Z1, Z1
	VADDPS       Z11, Z2, Z2
	VADDPS       Z12, Z3, Z3
	VADDPS       Z13, Z4, Z4
	VADDPS       Z14, Z5, Z5
	VADDPS       Z15, Z6, Z6
	VADDPS       Z16, Z7, Z7
	ADDQ         R10, BX
	INCQ         CX
	JMP          dc128d

dc128s:
	STORE8Z128(DI, AX)
	MOVQ    R11, AX
	JMP     dc128

dc16:
	CMPQ   AX, R8
	JGE    dcdone
	VPXORD Z0, Z0, Z0
	LEAQ   (DX)(AX*4), BX
	XORQ   CX, CX

dc16d:
	CMPQ         CX, R9
	JGE          dc16s
	VBROADCASTSS (SI)(CX*4), Z8
	VMULPS       (BX), Z8, Z9
	VADDPS       Z9, Z0, Z0
	ADDQ         R10, BX
	INCQ         CX
	JMP          dc16d

dc16s:
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	JMP     dc16

dcdone:
	VZEROUPPER
	RET

// func dotsCols3x512(out []float32, ostride int, x []float32, D int, cols []float32, n, cnt int)
//
// dotsCols512 for three vectors at once, x's thirds (D values each), so that
// each column is read once for the three: out[p*ostride+j] = sum over d of
// x[p*D+d]*cols[d*n+j] for j < cnt, a multiple of 16; 64 columns at a time
// in Z0 to Z11 (vector p, columns g*16: Z(4p+g)), then 16 in Z0 to Z2.
// Registers: DI out, R12 ostride*4, SI x, R13 D*4, DX cols, R8 cnt, R9 D,
// R10 n*4, AX the column, BX &cols[d*n+j], CX d, R14 &x[D+d].
TEXT ·dotsCols3x512(SB), NOSPLIT, $0-104
	MOVQ out_base+0(FP), DI
	MOVQ ostride+24(FP), R12
	SHLQ $2, R12
	MOVQ x_base+32(FP), SI
	MOVQ D+56(FP), R9
	LEAQ (R9*4), R13
	MOVQ cols_base+64(FP), DX
	MOVQ n+88(FP), R10
	SHLQ $2, R10
	MOVQ cnt+96(FP), R8
	XORQ AX, AX

d3c64:
	LEAQ   64(AX), R11
	CMPQ   R11, R8
	JG     d3c16
	ZERO8Z
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	LEAQ   (DX)(AX*4), BX
	LEAQ   (SI)(R13*1), R14
	XORQ   CX, CX

d3c64d:
	CMPQ         CX, R9
	JGE          d3c64s
	VMOVUPS      (BX), Z12
	VMOVUPS      64(BX), Z13
	VMOVUPS      128(BX), Z14
	VMOVUPS      192(BX), Z15
	VBROADCASTSS (SI)(CX*4), Z16
	VBROADCASTSS (R14), Z17
	VBROADCASTSS (R14)(R13*1), Z18
	VMULPS       Z12, Z16, Z19
	VMULPS       Z13, Z16, Z20
	VMULPS       Z14, Z16, Z21
	VMULPS       Z15, Z16, Z22
	VMULPS       Z12, Z17, Z23
	VMULPS       Z13, Z17, Z24
	VMULPS       Z14, Z17, Z25
	VMULPS       Z15, Z17, Z26
	VMULPS       Z12, Z18, Z27
	VMULPS       Z13, Z18, Z28
	VMULPS       Z14, Z18, Z29
	VMULPS       Z15, Z18, Z30
	VADDPS       Z19, Z0, Z0
	VADDPS       Z20, Z1, Z1
	VADDPS       Z21, Z2, Z2
	VADDPS       Z22, Z3, Z3
	VADDPS       Z23, Z4, Z4
	VADDPS       Z24, Z5, Z5
	VADDPS       Z25, Z6, Z6
	VADDPS       Z26, Z7, Z7
	VADDPS       Z27, Z8, Z8
	VADDPS       Z28, Z9, Z9
	VADDPS       Z29, Z10, Z10
	VADDPS       Z30, Z11, Z11
	ADDQ         R10, BX
	ADDQ         $4, R14
	INCQ         CX
	JMP          d3c64d

d3c64s:
	LEAQ    (DI)(AX*4), BX
	VMOVUPS Z0, (BX)
	VMOVUPS Z1, 64(BX)
	VMOVUPS Z2, 128(BX)
	VMOVUPS Z3, 192(BX)
	ADDQ    R12, BX
	VMOVUPS Z4, (BX)
	VMOVUPS Z5, 64(BX)
	VMOVUPS Z6, 128(BX)
	VMOVUPS Z7, 192(BX)
	ADDQ    R12, BX
	VMOVUPS Z8, (BX)
	VMOVUPS Z9, 64(BX)
	VMOVUPS Z10, 128(BX)
	VMOVUPS Z11, 192(BX)
	MOVQ    R11, AX
	JMP     d3c64

d3c16:
	CMPQ   AX, R8
	JGE    d3done
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	LEAQ   (DX)(AX*4), BX
	LEAQ   (SI)(R13*1), R14
	XORQ   CX, CX

d3c16d:
	CMPQ         CX, R9
	JGE          d3c16s
	VMOVUPS      (BX), Z12
	VBROADCASTSS (SI)(CX*4), Z16
	VBROADCASTSS (R14), Z17
	VBROADCASTSS (R14)(R13*1), Z18
	VMULPS       Z12, Z16, Z19
	VMULPS       Z12, Z17, Z20
	VMULPS       Z12, Z18, Z21
	VADDPS       Z19, Z0, Z0
	VADDPS       Z20, Z1, Z1
	VADDPS       Z21, Z2, Z2
	ADDQ         R10, BX
	ADDQ         $4, R14
	INCQ         CX
	JMP          d3c16d

d3c16s:
	LEAQ    (DI)(AX*4), BX
	VMOVUPS Z0, (BX)
	ADDQ    R12, BX
	VMOVUPS Z1, (BX)
	ADDQ    R12, BX
	VMOVUPS Z2, (BX)
	ADDQ    $16, AX
	JMP     d3c16

d3done:
	VZEROUPPER
	RET
