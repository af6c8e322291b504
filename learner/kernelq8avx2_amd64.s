#include "textflag.h"
#include "kernelavx2.h"

// The AVX2 kernels over int8 cross terms (crossTab), for CPUs without the
// AVX-512 ones: each value widened, converted and scaled exactly, then
// summed as the F16C kernels sum float16 values.

// Q8Y4(A, I, S, R0, R1, R2, R3) sets R0-R3 to the 32 values from (A)(I*1)
// times S; Q8Y1 sets R to 8.
#define Q8Y4(A, I, S, R0, R1, R2, R3) \
	VPMOVSXBD (A)(I*1), R0;   \
	VPMOVSXBD 8(A)(I*1), R1;  \
	VPMOVSXBD 16(A)(I*1), R2; \
	VPMOVSXBD 24(A)(I*1), R3; \
	VCVTDQ2PS R0, R0;         \
	VCVTDQ2PS R1, R1;         \
	VCVTDQ2PS R2, R2;         \
	VCVTDQ2PS R3, R3;         \
	VMULPS    S, R0, R0;      \
	VMULPS    S, R1, R1;      \
	VMULPS    S, R2, R2;      \
	VMULPS    S, R3, R3

#define Q8Y1(A, I, S, R) \
	VPMOVSXBD (A)(I*1), R; \
	VCVTDQ2PS R, R;        \
	VMULPS    S, R, R

// func fieldQ8AVX2(f, u []float32, q []int8, s []float32, off, soff []int, K int)
//
// fieldQ8512 in AVX2: block by block of K, 32 sums in registers across the
// rows, then 8. Registers as there; Y12 the row's scale.
TEXT ·fieldQ8AVX2(SB), NOSPLIT, $0-152
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), CX
	MOVQ u_base+24(FP), SI
	MOVQ q_base+48(FP), DX
	MOVQ s_base+72(FP), R10
	MOVQ off_base+96(FP), R8
	MOVQ off_len+104(FP), R9
	MOVQ soff_base+120(FP), R12
	MOVQ K+144(FP), R14
	XORQ R11, R11
	XORQ BX, BX

fyblk:
	CMPQ R11, CX
	JGE  fydone
	LEAQ (R11)(R14*1), R15

fy32:
	LEAQ    32(R11), AX
	CMPQ    AX, R15
	JG      fy8
	VMOVUPS (SI)(R11*4), Y0
	VMOVUPS 32(SI)(R11*4), Y1
	VMOVUPS 64(SI)(R11*4), Y2
	VMOVUPS 96(SI)(R11*4), Y3
	XORQ    R13, R13

fy32m:
	CMPQ         R13, R9
	JGE          fy32s
	MOVQ         (R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Y12
	MOVQ         (R8)(R13*8), AX
	ADDQ         R11, AX
	Q8Y4(DX, AX, Y12, Y4, Y5, Y6, Y7)
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	INCQ         R13
	JMP          fy32m

fy32s:
	VMOVUPS Y0, (DI)(R11*4)
	VMOVUPS Y1, 32(DI)(R11*4)
	VMOVUPS Y2, 64(DI)(R11*4)
	VMOVUPS Y3, 96(DI)(R11*4)
	ADDQ    $32, R11
	JMP     fy32

fy8:
	CMPQ    R11, R15
	JGE     fynext
	VMOVUPS (SI)(R11*4), Y0
	XORQ    R13, R13

fy8m:
	CMPQ         R13, R9
	JGE          fy8s
	MOVQ         (R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Y12
	MOVQ         (R8)(R13*8), AX
	ADDQ         R11, AX
	Q8Y1(DX, AX, Y12, Y4)
	VADDPS       Y4, Y0, Y0
	INCQ         R13
	JMP          fy8m

fy8s:
	VMOVUPS Y0, (DI)(R11*4)
	ADDQ    $8, R11
	JMP     fy8

fynext:
	INCQ BX
	JMP  fyblk

fydone:
	VZEROUPPER
	RET

// func restartQ8AVX2(f, base []float32, q []int8, s []float32, rows, srows []int, K int)
//
// restartQ8512 in AVX2: 32 sums in registers across the pairs of rows,
// then 8. Registers as there; Y12 and Y13 the pair's scales.
TEXT ·restartQ8AVX2(SB), NOSPLIT, $0-152
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), CX
	MOVQ base_base+24(FP), SI
	MOVQ q_base+48(FP), DX
	MOVQ s_base+72(FP), R10
	MOVQ rows_base+96(FP), R8
	MOVQ rows_len+104(FP), R9
	MOVQ srows_base+120(FP), R12
	MOVQ K+144(FP), R14
	XORQ R11, R11
	XORQ BX, BX

ryblk:
	CMPQ R11, CX
	JGE  rydone
	LEAQ (R11)(R14*1), R15

ry32:
	LEAQ    32(R11), AX
	CMPQ    AX, R15
	JG      ry8
	VMOVUPS (SI)(R11*4), Y0
	VMOVUPS 32(SI)(R11*4), Y1
	VMOVUPS 64(SI)(R11*4), Y2
	VMOVUPS 96(SI)(R11*4), Y3
	XORQ    R13, R13

ry32p:
	CMPQ         R13, R9
	JGE          ry32s
	MOVQ         (R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Y12
	MOVQ         8(R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Y13
	MOVQ         (R8)(R13*8), AX
	ADDQ         R11, AX
	Q8Y4(DX, AX, Y12, Y4, Y5, Y6, Y7)
	MOVQ         8(R8)(R13*8), AX
	ADDQ         R11, AX
	Q8Y4(DX, AX, Y13, Y8, Y9, Y10, Y11)
	VSUBPS       Y8, Y4, Y4
	VSUBPS       Y9, Y5, Y5
	VSUBPS       Y10, Y6, Y6
	VSUBPS       Y11, Y7, Y7
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	ADDQ         $2, R13
	JMP          ry32p

ry32s:
	VMOVUPS Y0, (DI)(R11*4)
	VMOVUPS Y1, 32(DI)(R11*4)
	VMOVUPS Y2, 64(DI)(R11*4)
	VMOVUPS Y3, 96(DI)(R11*4)
	ADDQ    $32, R11
	JMP     ry32

ry8:
	CMPQ    R11, R15
	JGE     rynext
	VMOVUPS (SI)(R11*4), Y0
	XORQ    R13, R13

ry8p:
	CMPQ         R13, R9
	JGE          ry8s
	MOVQ         (R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Y12
	MOVQ         8(R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Y13
	MOVQ         (R8)(R13*8), AX
	ADDQ         R11, AX
	Q8Y1(DX, AX, Y12, Y4)
	MOVQ         8(R8)(R13*8), AX
	ADDQ         R11, AX
	Q8Y1(DX, AX, Y13, Y8)
	VSUBPS       Y8, Y4, Y4
	VADDPS       Y4, Y0, Y0
	ADDQ         $2, R13
	JMP          ry8p

ry8s:
	VMOVUPS Y0, (DI)(R11*4)
	ADDQ    $8, R11
	JMP     ry8

rynext:
	INCQ BX
	JMP  ryblk

rydone:
	VZEROUPPER
	RET

// func icmRunQ8AVX2(f []float32, q []int8, s []float32, b []uint16, K, visits int)
//
// icmRunF16C over int8 rows: the same visits and sums. Registers as there,
// R15 the bytes of a row of q (M*K); while a change updates the field, SI
// and BX point at the two rows' scales, Y13 and Y14 hold a block's.
TEXT ·icmRunQ8AVX2(SB), NOSPLIT, $0-112
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), R15
	MOVQ q_base+24(FP), SI
	MOVQ b_base+72(FP), BX
	MOVQ b_len+80(FP), R8
	MOVQ K+96(FP), R9
	XORQ R10, R10
	XORQ R11, R11
	MOVQ DI, R12

mloop:
	CMPQ  R11, R8
	JGE   sweepdone
	MOVQ  visits+104(FP), AX
	TESTQ AX, AX
	JLE   sweepdone
	DECQ  AX
	MOVQ  AX, visits+104(FP)
	INCQ  R11

	ICMVISITAVX2

	// b[m] = k; rows a = m*K+k and b = m*K+c; f += a - b block by block
	// (block m of both rows is zero).
	MOVW  AX, (BX)(R10*2)
	MOVQ  $1, R11
	MOVQ  R10, R13
	IMULQ R9, R13
	ADDQ  R13, AX
	ADDQ  R13, DX
	MOVQ  s_base+48(FP), R14
	MOVQ  AX, SI
	IMULQ R8, SI
	LEAQ  (R14)(SI*4), SI
	MOVQ  DX, BX
	IMULQ R8, BX
	LEAQ  (R14)(BX*4), BX
	MOVQ  q_base+24(FP), R14
	IMULQ R15, AX
	ADDQ  R14, AX
	IMULQ R15, DX
	ADDQ  R14, DX
	XORQ  R14, R14

yub:
	VBROADCASTSS (SI), Y13
	VBROADCASTSS (BX), Y14
	MOVQ         R9, R13

yub32:
	CMPQ    R13, $32
	JL      yub8
	Q8Y4(AX, R14, Y13, Y5, Y6, Y7, Y8)
	Q8Y4(DX, R14, Y14, Y9, Y10, Y11, Y12)
	VSUBPS  Y9, Y5, Y5
	VSUBPS  Y10, Y6, Y6
	VSUBPS  Y11, Y7, Y7
	VSUBPS  Y12, Y8, Y8
	VADDPS  (DI)(R14*4), Y5, Y5
	VADDPS  32(DI)(R14*4), Y6, Y6
	VADDPS  64(DI)(R14*4), Y7, Y7
	VADDPS  96(DI)(R14*4), Y8, Y8
	VMOVUPS Y5, (DI)(R14*4)
	VMOVUPS Y6, 32(DI)(R14*4)
	VMOVUPS Y7, 64(DI)(R14*4)
	VMOVUPS Y8, 96(DI)(R14*4)
	ADDQ    $32, R14
	SUBQ    $32, R13
	JMP     yub32

yub8:
	CMPQ    R13, $8
	JL      yubnext
	Q8Y1(AX, R14, Y13, Y5)
	Q8Y1(DX, R14, Y14, Y9)
	VSUBPS  Y9, Y5, Y5
	VADDPS  (DI)(R14*4), Y5, Y5
	VMOVUPS Y5, (DI)(R14*4)
	ADDQ    $8, R14
	SUBQ    $8, R13
	JMP     yub8

yubnext:
	ADDQ $4, SI
	ADDQ $4, BX
	CMPQ R14, R15
	JL   yub
	MOVQ q_base+24(FP), SI
	MOVQ b_base+72(FP), BX

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

// func absMaxAVX2(v []float32) float32
TEXT ·absMaxAVX2(SB), NOSPLIT, $0-28
	MOVQ         v_base+0(FP), SI
	MOVQ         v_len+8(FP), CX
	MOVL         $0x7fffffff, AX
	MOVL         AX, X2
	VPBROADCASTD X2, Y2
	VXORPS       Y0, Y0, Y0
	XORQ         R11, R11

aymloop:
	CMPQ   R11, CX
	JGE    aymdone
	VANDPS (SI)(R11*4), Y2, Y1
	VMAXPS Y1, Y0, Y0
	ADDQ   $8, R11
	JMP    aymloop

aymdone:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4E, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xB1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSS       X0, ret+24(FP)
	VZEROUPPER
	RET

// func quantQ8AVX2(q []int8, v []float32, inv float32)
//
// Eight at a time: v*inv converted to int32 by the CPU's rounding (to
// nearest, ties to even), packed to int16 and then int8 (within range,
// so the saturation never acts).
TEXT ·quantQ8AVX2(SB), NOSPLIT, $0-52
	MOVQ         q_base+0(FP), DI
	MOVQ         v_base+24(FP), SI
	MOVQ         v_len+32(FP), CX
	VBROADCASTSS inv+48(FP), Y2
	XORQ         R11, R11

qyloop:
	CMPQ         R11, CX
	JGE          qydone
	VMULPS       (SI)(R11*4), Y2, Y0
	VCVTPS2DQ    Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	VPACKSSWB    X0, X0, X0
	MOVQ         X0, (DI)(R11*1)
	ADDQ         $8, R11
	JMP          qyloop

qydone:
	VZEROUPPER
	RET
