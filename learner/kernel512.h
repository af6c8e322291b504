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
