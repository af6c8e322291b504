// Macros of the AVX-512 kernels.

// ADDDIFF64Z sets F[I:I+64] += A[I:I+64] - B[I:I+64] for float32 F and
// float16 A and B (I an index register); ADDDIFF16Z the same for 16.
#define ADDDIFF64Z(A, B, F, I) \
	VCVTPH2PS (A)(I*2), Z5;     \
	VCVTPH2PS 32(A)(I*2), Z6;   \
	VCVTPH2PS 64(A)(I*2), Z7;   \
	VCVTPH2PS 96(A)(I*2), Z8;   \
	VCVTPH2PS (B)(I*2), Z9;     \
	VCVTPH2PS 32(B)(I*2), Z10;  \
	VCVTPH2PS 64(B)(I*2), Z11;  \
	VCVTPH2PS 96(B)(I*2), Z12;  \
	VSUBPS    Z9, Z5, Z5;       \
	VSUBPS    Z10, Z6, Z6;      \
	VSUBPS    Z11, Z7, Z7;      \
	VSUBPS    Z12, Z8, Z8;      \
	VADDPS    (F)(I*4), Z5, Z5;    \
	VADDPS    64(F)(I*4), Z6, Z6;  \
	VADDPS    128(F)(I*4), Z7, Z7; \
	VADDPS    192(F)(I*4), Z8, Z8; \
	VMOVUPS   Z5, (F)(I*4);        \
	VMOVUPS   Z6, 64(F)(I*4);      \
	VMOVUPS   Z7, 128(F)(I*4);     \
	VMOVUPS   Z8, 192(F)(I*4)

#define ADDDIFF16Z(A, B, F, I) \
	VCVTPH2PS (A)(I*2), Z5;     \
	VCVTPH2PS (B)(I*2), Z9;     \
	VSUBPS    Z9, Z5, Z5;       \
	VADDPS    (F)(I*4), Z5, Z5; \
	VMOVUPS   Z5, (F)(I*4)

// ZERO8Z clears Z0 to Z7.
#define ZERO8Z \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7

// STORE8Z128 stores Z0 to Z7 as the 128 float32 values from (B)(I*4).
#define STORE8Z128(B, I) \
	VMOVUPS Z0, (B)(I*4);     \
	VMOVUPS Z1, 64(B)(I*4);   \
	VMOVUPS Z2, 128(B)(I*4);  \
	VMOVUPS Z3, 192(B)(I*4);  \
	VMOVUPS Z4, 256(B)(I*4);  \
	VMOVUPS Z5, 320(B)(I*4);  \
	VMOVUPS Z6, 384(B)(I*4);  \
	VMOVUPS Z7, 448(B)(I*4)

// HMIN leaves in X0's lowest lane the least of Z0's sixteen (Z1 scratch).
#define HMIN                      \
	VEXTRACTF32X8 $1, Z0, Y1; \
	VMINPS        Y1, Y0, Y0; \
	VEXTRACTF128  $1, Y0, X1; \
	VMINPS        X1, X0, X0; \
	VPERMILPS     $0x4E, X0, X1; \
	VMINPS        X1, X0, X0; \
	VPERMILPS     $0xB1, X0, X1; \
	VMINPS        X1, X0, X0

// ICMMINSINIT sets mins (CX) to the least field of each of the M (R8)
// codebooks of K (R9) codes of f (R12 = DI), R10 from 0 (Z15 +Inf), in
// the AVX-512 ICMs that keep least fields.
#define ICMMINSINIT \
zinit: \
	CMPQ    R10, R8; \
	JGE     zinitd; \
	VMOVAPS Z15, Z0; \
	VMOVAPS Z15, Z1; \
	XORQ    AX, AX; \
zinit64: \
	LEAQ   64(AX), R13; \
	CMPQ   R13, R9; \
	JG     zinit16; \
	VMINPS (R12)(AX*4), Z0, Z0; \
	VMINPS 64(R12)(AX*4), Z1, Z1; \
	VMINPS 128(R12)(AX*4), Z0, Z0; \
	VMINPS 192(R12)(AX*4), Z1, Z1; \
	MOVQ   R13, AX; \
	JMP    zinit64; \
zinit16: \
	CMPQ   AX, R9; \
	JGE    zinitr; \
	VMINPS (R12)(AX*4), Z0, Z0; \
	ADDQ   $16, AX; \
	JMP    zinit16; \
zinitr: \
	VMINPS Z1, Z0, Z0; \
	HMIN; \
	VMOVSS X0, (CX)(R10*4); \
	INCQ   R10; \
	LEAQ   (R12)(R9*4), R12; \
	JMP    zinit; \
zinitd:

// ICMMINSVISIT is a visit of codebook m (R10) in those ICMs: on to znext
// unless the least field is below the current code's (ordered); else AX
// is its first code (-0 equals 0 there), DX the current code.
#define ICMMINSVISIT \
	MOVWQZX      (BX)(R10*2), DX; \
	VMOVSS       (CX)(R10*4), X2; \
	VUCOMISS     (R12)(DX*4), X2; \
	JCC          znext; \
	VBROADCASTSS X2, Z2; \
	XORQ         AX, AX; \
zfind: \
	VCMPPS $0, (R12)(AX*4), Z2, K3; \
	KMOVW  K3, R13; \
	TESTL  R13, R13; \
	JNZ    zfound; \
	ADDQ   $16, AX; \
	CMPQ   AX, R9; \
	JL     zfind; \
	JMP    znext; \
zfound: \
	BSFL R13, R13; \
	ADDQ R13, AX
