// libLibTorchSharp.so (TorchSharp 0.107.0) was linked against a GCC 13+ libstdc++ and calls
// std::ios_base_library_init() (GLIBCXX_3.4.32), which Debian 12's libstdc++ (GCC 12, up to
// GLIBCXX_3.4.30) lacks. GCC 13 emits that call to make sure <iostream>'s objects are constructed;
// constructing an ios_base::Init does the same on GCC 12. run.sh builds this into
// ~/.cache/robotruntime/torchsharp-shim/ and adds it as a DT_NEEDED of a patched copy of the library.
#include <ios>

namespace std
{
    void ios_base_library_init()
    {
        static ios_base::Init init;
    }
}
