// Reports how libtorch was built and which CPU paths it picked (at::show_config,
// at::get_parallel_info, at::get_cpu_capability), for the benchmark's header. Linked against the
// libtorch_cpu.so of the NuGet package; the declarations match libtorch's (C++11 string ABI).
#include <cstring>
#include <string>

namespace at
{
    std::string show_config();
    std::string get_parallel_info();
    std::string get_cpu_capability();
    std::string get_mkl_version();
    std::string get_mkldnn_version();
}

extern "C" int rr_torch_info(int which, char* buffer, int length)
{
    std::string s;
    switch (which)
    {
    case 0: s = at::show_config(); break;
    case 1: s = at::get_parallel_info(); break;
    case 2: s = at::get_cpu_capability(); break;
    case 3: s = at::get_mkl_version(); break;
    case 4: s = at::get_mkldnn_version(); break;
    default: return -1;
    }
    if (buffer != nullptr && length > 0)
    {
        size_t n = s.size() < static_cast<size_t>(length - 1) ? s.size() : static_cast<size_t>(length - 1);
        std::memcpy(buffer, s.data(), n);
        buffer[n] = '\0';
    }
    return static_cast<int>(s.size());
}
