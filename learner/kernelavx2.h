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
