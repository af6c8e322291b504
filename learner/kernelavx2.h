// MINLANES broadcasts to every lane of Y2 the least of the 8 lanes of Y0
// (X1 is scratch).
#define MINLANES \
	VEXTRACTF128 $1, Y0, X1;   \
	VMINPS       X1, X0, X0;   \
	VPERMILPS    $0x4E, X0, X1; \
	VMINPS       X1, X0, X0;   \
	VPERMILPS    $0xB1, X0, X1; \
	VMINPS       X1, X0, X0;   \
	VBROADCASTSS X0, Y2

// ICMVISITAVX2 is a visit of codebook m (R10) in the AVX2 ICMs
// (icmRunF16C, icmRunQ8AVX2): nothing to do, and on to snext, unless some
// code's field is below the current one's (tested first, a shorter chain
// than the argmin: most codebooks keep their code); else AX is the first
// code of least field, DX the current code, and the least is below it.
// 32 codes a step, in two chains, while 32 are left (at K = 256 the tests
// and the argmin were a fifth of a round, bound by their chains'
// latency); four chains of minima over 32 codes a step (the least value
// is the same whatever the order, and -0 equals 0 where the code is found).
#define ICMVISITAVX2 \
	MOVWQZX      (BX)(R10*2), DX; \
	VBROADCASTSS (R12)(DX*4), Y2; \
	VXORPS       Y3, Y3, Y3; \
	VXORPS       Y1, Y1, Y1; \
	XORQ         AX, AX; \
sany32: \
	LEAQ   32(AX), R13; \
	CMPQ   R13, R9; \
	JG     sany; \
	VCMPPS $0x1e, (R12)(AX*4), Y2, Y4; \
	VCMPPS $0x1e, 32(R12)(AX*4), Y2, Y5; \
	VCMPPS $0x1e, 64(R12)(AX*4), Y2, Y6; \
	VCMPPS $0x1e, 96(R12)(AX*4), Y2, Y7; \
	VORPS  Y4, Y3, Y3; \
	VORPS  Y5, Y1, Y1; \
	VORPS  Y6, Y3, Y3; \
	VORPS  Y7, Y1, Y1; \
	MOVQ   R13, AX; \
	JMP    sany32; \
sany: \
	CMPQ   AX, R9; \
	JGE    sanyd; \
	VCMPPS $0x1e, (R12)(AX*4), Y2, Y4; \
	VORPS  Y4, Y3, Y3; \
	ADDQ   $8, AX; \
	JMP    sany; \
sanyd: \
	VORPS   Y1, Y3, Y3; \
	VPTEST  Y3, Y3; \
	JZ      snext; \
	VMOVUPS (R12), Y0; \
	MOVQ    $8, AX; \
	CMPQ    R9, $32; \
	JL      smin; \
	VMOVUPS 32(R12), Y1; \
	VMOVUPS 64(R12), Y6; \
	VMOVUPS 96(R12), Y7; \
	MOVQ    $32, AX; \
smin32: \
	LEAQ   32(AX), R13; \
	CMPQ   R13, R9; \
	JG     smin32d; \
	VMINPS (R12)(AX*4), Y0, Y0; \
	VMINPS 32(R12)(AX*4), Y1, Y1; \
	VMINPS 64(R12)(AX*4), Y6, Y6; \
	VMINPS 96(R12)(AX*4), Y7, Y7; \
	MOVQ   R13, AX; \
	JMP    smin32; \
smin32d: \
	VMINPS Y1, Y0, Y0; \
	VMINPS Y7, Y6, Y6; \
	VMINPS Y6, Y0, Y0; \
smin: \
	CMPQ   AX, R9; \
	JGE    sred; \
	VMINPS (R12)(AX*4), Y0, Y0; \
	ADDQ   $8, AX; \
	JMP    smin; \
sred: \
	MINLANES; \
	XORQ         AX, AX; \
sfind: \
	CMPQ      AX, R9; \
	JGE       snext; \
	VCMPPS    $0, (R12)(AX*4), Y2, Y3; \
	VMOVMSKPS Y3, DX; \
	TESTL     DX, DX; \
	JNZ       sfound; \
	ADDQ      $8, AX; \
	JMP       sfind; \
sfound: \
	BSFL     DX, DX; \
	ADDQ     DX, AX; \
	MOVWQZX  (BX)(R10*2), DX; \
	CMPQ     AX, DX; \
	JEQ      snext; \
	VMOVSS   (R12)(AX*4), X4; \
	VUCOMISS (R12)(DX*4), X4; \
	JCC      snext
