// Compiles bridge_hw.c as C++: the vendor SDKs a bridge calls (UR's ur_rtde, Franka's libfranka) are C++,
// so the file a vendor integrator fills in must stay valid C++ as well as C. Nothing here runs.
#include "bridge_hw.c"
