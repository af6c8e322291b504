#include "textflag.h"

// The field of an ICM restart (restartField): the best codes' field with
// the perturbations' updates, in one pass.

// RESTART4Z adds to Z0-Z3 the 64 values of row (AX) less row (BX) of P
// (DX) from element R11.
#define RESTART4Z \
	ADDQ      R11, AX;            \
	ADDQ      R11, BX;            \
	VCVTPH2PS (DX)(AX*2), Z4;     \
	VCVTPH2PS 32(DX)(AX*2), Z5;   \
	VCVTPH2PS 64(DX)(AX*2), Z6;   \
	VCVTPH2PS 96(DX)(AX*2), Z7;   \
	VCVTPH2PS (DX)(BX*2), Z8;     \
	VCVTPH2PS 32(DX)(BX*2), Z9;   \
	VCVTPH2PS 64(DX)(BX*2), Z10;  \
	VCVTPH2PS 96(DX)(BX*2), Z11;  \
	VSUBPS    Z8, Z4, Z4;         \
	VSUBPS    Z9, Z5, Z5;         \
	VSUBPS    Z10, Z6, Z6;        \
	VSUBPS    Z11, Z7, Z7;        \
	VADDPS    Z4, Z0, Z0;         \
	VADDPS    Z5, Z1, Z1;         \
	VADDPS    Z6, Z2, Z2;         \
	VADDPS    Z7, Z3, Z3

// func restart512(f, base []float32, P []uint16, rows []int)
//
// restartField for len(f) a multiple of 16: 64 sums in registers across
// the pairs of rows, then 16 at a time.
// Registers: DI f, SI base, DX P, R8 rows, R9 len(rows), CX the elements
// left, R11 the group's first element, R13 the pair's index, AX BX rows.
TEXT ·restart512(SB), NOSPLIT, $0-96
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), CX
	MOVQ base_base+24(FP), SI
	MOVQ P_base+48(FP), DX
	MOVQ rows_base+72(FP), R8
	MOVQ rows_len+80(FP), R9
	XORQ R11, R11

rz64:
	CMPQ    CX, $64
	JL      rz16
	VMOVUPS (SI)(R11*4), Z0
	VMOVUPS 64(SI)(R11*4), Z1
	VMOVUPS 128(SI)(R11*4), Z2
	VMOVUPS 192(SI)(R11*4), Z3
	XORQ    R13, R13

rz64p:
	CMPQ R13, R9
	JGE  rz64s
	MOVQ (R8)(R13*8), AX
	MOVQ 8(R8)(R13*8), BX
	RESTART4Z
	ADDQ $2, R13
	JMP  rz64p

rz64s:
	VMOVUPS Z0, (DI)(R11*4)
	VMOVUPS Z1, 64(DI)(R11*4)
	VMOVUPS Z2, 128(DI)(R11*4)
	VMOVUPS Z3, 192(DI)(R11*4)
	ADDQ    $64, R11
	SUBQ    $64, CX
	JMP     rz64

rz16:
	CMPQ    CX, $16
	JL      rzdone
	VMOVUPS (SI)(R11*4), Z0
	XORQ    R13, R13

rz16p:
	CMPQ      R13, R9
	JGE       rz16s
	MOVQ      (R8)(R13*8), AX
	MOVQ      8(R8)(R13*8), BX
	ADDQ      R11, AX
	ADDQ      R11, BX
	VCVTPH2PS (DX)(AX*2), Z4
	VCVTPH2PS (DX)(BX*2), Z8
	VSUBPS    Z8, Z4, Z4
	VADDPS    Z4, Z0, Z0
	ADDQ      $2, R13
	JMP       rz16p

rz16s:
	VMOVUPS Z0, (DI)(R11*4)
	ADDQ    $16, R11
	SUBQ    $16, CX
	JMP     rz16

rzdone:
	VZEROUPPER
	RET

// RESTART4Y adds to Y0-Y3 the 32 values of row (AX) less row (BX) of P
// (DX) from element R11.
#define RESTART4Y \
	ADDQ      R11, AX;            \
	ADDQ      R11, BX;            \
	VCVTPH2PS (DX)(AX*2), Y4;     \
	VCVTPH2PS 16(DX)(AX*2), Y5;   \
	VCVTPH2PS 32(DX)(AX*2), Y6;   \
	VCVTPH2PS 48(DX)(AX*2), Y7;   \
	VCVTPH2PS (DX)(BX*2), Y8;     \
	VCVTPH2PS 16(DX)(BX*2), Y9;   \
	VCVTPH2PS 32(DX)(BX*2), Y10;  \
	VCVTPH2PS 48(DX)(BX*2), Y11;  \
	VSUBPS    Y8, Y4, Y4;         \
	VSUBPS    Y9, Y5, Y5;         \
	VSUBPS    Y10, Y6, Y6;        \
	VSUBPS    Y11, Y7, Y7;        \
	VADDPS    Y4, Y0, Y0;         \
	VADDPS    Y5, Y1, Y1;         \
	VADDPS    Y6, Y2, Y2;         \
	VADDPS    Y7, Y3, Y3

// func restartF16C(f, base []float32, P []uint16, rows []int)
//
// restartField for len(f) a multiple of 8: 32 sums in registers across
// the pairs of rows, then 8 at a time. Registers as in restart512.
TEXT ·restartF16C(SB), NOSPLIT, $0-96
	MOVQ f_base+0(FP), DI
	MOVQ f_len+8(FP), CX
	MOVQ base_base+24(FP), SI
	MOVQ P_base+48(FP), DX
	MOVQ rows_base+72(FP), R8
	MOVQ rows_len+80(FP), R9
	XORQ R11, R11

ry32:
	CMPQ    CX, $32
	JL      ry8
	VMOVUPS (SI)(R11*4), Y0
	VMOVUPS 32(SI)(R11*4), Y1
	VMOVUPS 64(SI)(R11*4), Y2
	VMOVUPS 96(SI)(R11*4), Y3
	XORQ    R13, R13

ry32p:
	CMPQ R13, R9
	JGE  ry32s
	MOVQ (R8)(R13*8), AX
	MOVQ 8(R8)(R13*8), BX
	RESTART4Y
	ADDQ $2, R13
	JMP  ry32p

ry32s:
	VMOVUPS Y0, (DI)(R11*4)
	VMOVUPS Y1, 32(DI)(R11*4)
	VMOVUPS Y2, 64(DI)(R11*4)
	VMOVUPS Y3, 96(DI)(R11*4)
	ADDQ    $32, R11
	SUBQ    $32, CX
	JMP     ry32

ry8:
	CMPQ    CX, $8
	JL      rydone
	VMOVUPS (SI)(R11*4), Y0
	XORQ    R13, R13

ry8p:
	CMPQ      R13, R9
	JGE       ry8s
	MOVQ      (R8)(R13*8), AX
	MOVQ      8(R8)(R13*8), BX
	ADDQ      R11, AX
	ADDQ      R11, BX
	VCVTPH2PS (DX)(AX*2), Y4
	VCVTPH2PS (DX)(BX*2), Y8
	VSUBPS    Y8, Y4, Y4
	VADDPS    Y4, Y0, Y0
	ADDQ      $2, R13
	JMP       ry8p

ry8s:
	VMOVUPS Y0, (DI)(R11*4)
	ADDQ    $8, R11
	SUBQ    $8, CX
	JMP     ry8

rydone:
	VZEROUPPER
	RET
