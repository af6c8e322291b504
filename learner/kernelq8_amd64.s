#include "textflag.h"
#include "kernel512.h"

// The AVX-512 kernels over int8 cross terms (crossTab): each value is an
// int8 times its row and block's power of two, widened, converted and
// scaled exactly, then summed as the float16 kernels sum theirs.

// Q8X4(A, I, S, Z0, Z1, Z2, Z3) sets Z0-Z3 to the 64 values from (A)(I*1)
// times S.
#define Q8X4(A, I, S, R0, R1, R2, R3) \
	VPMOVSXBD (A)(I*1), R0;   \
	VPMOVSXBD 16(A)(I*1), R1; \
	VPMOVSXBD 32(A)(I*1), R2; \
	VPMOVSXBD 48(A)(I*1), R3; \
	VCVTDQ2PS R0, R0;         \
	VCVTDQ2PS R1, R1;         \
	VCVTDQ2PS R2, R2;         \
	VCVTDQ2PS R3, R3;         \
	VMULPS    S, R0, R0;      \
	VMULPS    S, R1, R1;      \
	VMULPS    S, R2, R2;      \
	VMULPS    S, R3, R3

// Q8X1(A, I, S, R) sets R to the 16 values from (A)(I*1) times S.
#define Q8X1(A, I, S, R) \
	VPMOVSXBD (A)(I*1), R; \
	VCVTDQ2PS R, R;        \
	VMULPS    S, R, R

// func fieldQ8512(f, u []float32, q []int8, s []float32, off, soff []int, K int)
//
// Block by block of K, 64 sums in registers across the rows, then 16.
// Registers: DI f, CX len(f), SI u, DX q, R10 s, R8 off, R9 len(off), R12
// soff, R14 K, R11 the element j, BX the block, R15 its end, R13 the row,
// AX scratch, Z16 the row's scale.
TEXT ·fieldQ8512(SB), NOSPLIT, $0-152
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

fqblk:
	CMPQ R11, CX
	JGE  fqdone
	LEAQ (R11)(R14*1), R15

fq64:
	LEAQ    64(R11), AX
	CMPQ    AX, R15
	JG      fq16
	VMOVUPS (SI)(R11*4), Z0
	VMOVUPS 64(SI)(R11*4), Z1
	VMOVUPS 128(SI)(R11*4), Z2
	VMOVUPS 192(SI)(R11*4), Z3
	XORQ    R13, R13

fq64m:
	CMPQ         R13, R9
	JGE          fq64s
	MOVQ         (R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Z16
	MOVQ         (R8)(R13*8), AX
	ADDQ         R11, AX
	Q8X4(DX, AX, Z16, Z4, Z5, Z6, Z7)
	VADDPS       Z4, Z0, Z0
	VADDPS       Z5, Z1, Z1
	VADDPS       Z6, Z2, Z2
	VADDPS       Z7, Z3, Z3
	INCQ         R13
	JMP          fq64m

fq64s:
	VMOVUPS Z0, (DI)(R11*4)
	VMOVUPS Z1, 64(DI)(R11*4)
	VMOVUPS Z2, 128(DI)(R11*4)
	VMOVUPS Z3, 192(DI)(R11*4)
	ADDQ    $64, R11
	JMP     fq64

fq16:
	CMPQ    R11, R15
	JGE     fqnext
	VMOVUPS (SI)(R11*4), Z0
	XORQ    R13, R13

fq16m:
	CMPQ         R13, R9
	JGE          fq16s
	MOVQ         (R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Z16
	MOVQ         (R8)(R13*8), AX
	ADDQ         R11, AX
	Q8X1(DX, AX, Z16, Z4)
	VADDPS       Z4, Z0, Z0
	INCQ         R13
	JMP          fq16m

fq16s:
	VMOVUPS Z0, (DI)(R11*4)
	ADDQ    $16, R11
	JMP     fq16

fqnext:
	INCQ BX
	JMP  fqblk

fqdone:
	VZEROUPPER
	RET

// func restartQ8512(f, base []float32, q []int8, s []float32, rows, srows []int, K int)
//
// Block by block of K, 64 sums in registers across the pairs of rows, then
// 16: f = base + (a0 - b0) + (a1 - b1) + ...
// Registers: DI f, CX len(f), SI base, DX q, R10 s, R8 rows, R9
// len(rows), R12 srows, R14 K, R11 the element j, BX the block, R15 its
// end, R13 the pair's index, AX scratch, Z16 and Z17 the pair's scales.
TEXT ·restartQ8512(SB), NOSPLIT, $0-152
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

rqblk:
	CMPQ R11, CX
	JGE  rqdone
	LEAQ (R11)(R14*1), R15

rq64:
	LEAQ    64(R11), AX
	CMPQ    AX, R15
	JG      rq16
	VMOVUPS (SI)(R11*4), Z0
	VMOVUPS 64(SI)(R11*4), Z1
	VMOVUPS 128(SI)(R11*4), Z2
	VMOVUPS 192(SI)(R11*4), Z3
	XORQ    R13, R13

rq64p:
	CMPQ         R13, R9
	JGE          rq64s
	MOVQ         (R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Z16
	MOVQ         8(R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Z17
	MOVQ         (R8)(R13*8), AX
	ADDQ         R11, AX
	Q8X4(DX, AX, Z16, Z4, Z5, Z6, Z7)
	MOVQ         8(R8)(R13*8), AX
	ADDQ         R11, AX
	Q8X4(DX, AX, Z17, Z8, Z9, Z10, Z11)
	VSUBPS       Z8, Z4, Z4
	VSUBPS       Z9, Z5, Z5
	VSUBPS       Z10, Z6, Z6
	VSUBPS       Z11, Z7, Z7
	VADDPS       Z4, Z0, Z0
	VADDPS       Z5, Z1, Z1
	VADDPS       Z6, Z2, Z2
	VADDPS       Z7, Z3, Z3
	ADDQ         $2, R13
	JMP          rq64p

rq64s:
	VMOVUPS Z0, (DI)(R11*4)
	VMOVUPS Z1, 64(DI)(R11*4)
	VMOVUPS Z2, 128(DI)(R11*4)
	VMOVUPS Z3, 192(DI)(R11*4)
	ADDQ    $64, R11
	JMP     rq64

rq16:
	CMPQ    R11, R15
	JGE     rqnext
	VMOVUPS (SI)(R11*4), Z0
	XORQ    R13, R13

rq16p:
	CMPQ         R13, R9
	JGE          rq16s
	MOVQ         (R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Z16
	MOVQ         8(R12)(R13*8), AX
	LEAQ         (R10)(AX*4), AX
	VBROADCASTSS (AX)(BX*4), Z17
	MOVQ         (R8)(R13*8), AX
	ADDQ         R11, AX
	Q8X1(DX, AX, Z16, Z4)
	MOVQ         8(R8)(R13*8), AX
	ADDQ         R11, AX
	Q8X1(DX, AX, Z17, Z8)
	VSUBPS       Z8, Z4, Z4
	VADDPS       Z4, Z0, Z0
	ADDQ         $2, R13
	JMP          rq16p

rq16s:
	VMOVUPS Z0, (DI)(R11*4)
	ADDQ    $16, R11
	JMP     rq16

rqnext:
	INCQ BX
	JMP  rqblk

rqdone:
	VZEROUPPER
	RET

// func icmRunMinsQ8512(f []float32, q []int8, s []float32, b []uint16, mins []float32, K, visits int)
//
// icmRunMins512 over int8 rows: the same visits, least fields and order
// of sums. Registers: DI f, SI q, BX b, CX mins, R8 M, R9 K, R10 m, R11
// the visits since the last change (counting it), R12 &f[m*K], R15 the
// bytes of a row of q (M*K), Z15 +Inf; visits counts down in its slot; AX,
// DX, R13, R14 scratch. While a change updates the field, SI and BX point
// at the two rows' scales.
TEXT ·icmRunMinsQ8512(SB), NOSPLIT, $0-136
	MOVQ         f_base+0(FP), DI
	MOVQ         f_len+8(FP), R15
	MOVQ         q_base+24(FP), SI
	MOVQ         b_base+72(FP), BX
	MOVQ         b_len+80(FP), R8
	MOVQ         mins_base+96(FP), CX
	MOVQ         K+120(FP), R9
	MOVL         $0x7f800000, AX
	VPBROADCASTD AX, Z15
	XORQ         R10, R10
	MOVQ         DI, R12

	ICMMINSINIT
	XORQ R10, R10
	XORQ R11, R11
	MOVQ DI, R12

qm:
	CMPQ  R11, R8
	JGE   qdone
	MOVQ  visits+128(FP), AX
	TESTQ AX, AX
	JLE   qdone
	DECQ  AX
	MOVQ  AX, visits+128(FP)
	INCQ  R11

	ICMMINSVISIT

	// b[m] = k; rows a = m*K+k and b = m*K+c; f += a - b outside block m.
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

qub:
	LEAQ         (DI)(R14*4), R13
	CMPQ         R13, R12
	JEQ          quown
	VBROADCASTSS (SI), Z16
	VBROADCASTSS (BX), Z17
	MOVQ         R9, R13
	VMOVAPS      Z15, Z3
	VMOVAPS      Z15, Z13

qub64:
	CMPQ    R13, $64
	JL      qub16
	Q8X4(AX, R14, Z16, Z5, Z6, Z7, Z8)
	Q8X4(DX, R14, Z17, Z9, Z10, Z11, Z12)
	VSUBPS  Z9, Z5, Z5
	VSUBPS  Z10, Z6, Z6
	VSUBPS  Z11, Z7, Z7
	VSUBPS  Z12, Z8, Z8
	VADDPS  (DI)(R14*4), Z5, Z5
	VADDPS  64(DI)(R14*4), Z6, Z6
	VADDPS  128(DI)(R14*4), Z7, Z7
	VADDPS  192(DI)(R14*4), Z8, Z8
	VMOVUPS Z5, (DI)(R14*4)
	VMOVUPS Z6, 64(DI)(R14*4)
	VMOVUPS Z7, 128(DI)(R14*4)
	VMOVUPS Z8, 192(DI)(R14*4)
	VMINPS  Z5, Z3, Z3
	VMINPS  Z6, Z13, Z13
	VMINPS  Z7, Z3, Z3
	VMINPS  Z8, Z13, Z13
	ADDQ    $64, R14
	SUBQ    $64, R13
	JMP     qub64

qub16:
	CMPQ    R13, $16
	JL      qubmin
	Q8X1(AX, R14, Z16, Z5)
	Q8X1(DX, R14, Z17, Z9)
	VSUBPS  Z9, Z5, Z5
	VADDPS  (DI)(R14*4), Z5, Z5
	VMOVUPS Z5, (DI)(R14*4)
	VMINPS  Z5, Z3, Z3
	ADDQ    $16, R14
	SUBQ    $16, R13
	JMP     qub16

qubmin:
	VMINPS Z13, Z3, Z0
	HMIN
	VMOVSS X0, (CX)
	JMP    qubnext

quown:
	ADDQ R9, R14

qubnext:
	ADDQ $4, CX
	ADDQ $4, SI
	ADDQ $4, BX
	CMPQ R14, R15
	JL   qub
	MOVQ mins_base+96(FP), CX
	MOVQ q_base+24(FP), SI
	MOVQ b_base+72(FP), BX

znext:
	INCQ R10
	LEAQ (R12)(R9*4), R12
	CMPQ R10, R8
	JL   qm
	XORQ R10, R10
	MOVQ DI, R12
	JMP  qm

qdone:
	VZEROUPPER
	RET

// func absMax512(v []float32) float32
TEXT ·absMax512(SB), NOSPLIT, $0-28
	MOVQ         v_base+0(FP), SI
	MOVQ         v_len+8(FP), CX
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z2
	VPXORD       Z0, Z0, Z0
	XORQ         R11, R11

amloop:
	CMPQ    R11, CX
	JGE     amdone
	VANDPS  (SI)(R11*4), Z2, Z1
	VMAXPS  Z1, Z0, Z0
	ADDQ    $16, R11
	JMP     amloop

amdone:
	VEXTRACTF32X8 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4E, X0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0xB1, X0, X1
	VMAXPS        X1, X0, X0
	VMOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func quantQ8512(q []int8, v []float32, inv float32)
TEXT ·quantQ8512(SB), NOSPLIT, $0-52
	MOVQ         q_base+0(FP), DI
	MOVQ         v_base+24(FP), SI
	MOVQ         v_len+32(FP), CX
	VBROADCASTSS inv+48(FP), Z2
	XORQ         R11, R11

qqloop:
	CMPQ      R11, CX
	JGE       qqdone
	VMULPS    (SI)(R11*4), Z2, Z0
	VCVTPS2DQ Z0, Z0
	VPMOVDB   Z0, (DI)(R11*1)
	ADDQ      $16, R11
	JMP       qqloop

qqdone:
	VZEROUPPER
	RET
