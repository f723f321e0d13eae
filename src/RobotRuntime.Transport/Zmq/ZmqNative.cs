using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RobotRuntime.Native;

namespace RobotRuntime.Transport.Zmq;

/// <summary>libzmq's C functions. The library is found by <see cref="NativeLibraryLocator"/>.</summary>
internal static unsafe partial class ZmqNative
{
    private const string Library = "zmq";

    // Every P/Invoke of this assembly is in this class, so its static constructor runs before the
    // first one and routes the library name to the project's locator (one resolver per assembly).
    static ZmqNative() =>
        NativeLibrary.SetDllImportResolver(typeof(ZmqNative).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library ? NativeLibraryLocator.Default.Load(NativeDependency.ZeroMq) : 0;

    // Socket types, options, flags and error numbers from zmq.h (4.3).
    internal const int Pub = 1, Sub = 2, Req = 3, Rep = 4;
    internal const int OptionSubscribe = 6, OptionLinger = 17, OptionReconnectInterval = 18,
        OptionReconnectIntervalMax = 21, OptionMaxMessageSize = 22, OptionSendHighWaterMark = 23,
        OptionReceiveHighWaterMark = 24, OptionReceiveTimeout = 27, OptionSendTimeout = 28,
        OptionLastEndpoint = 32, OptionImmediate = 39, OptionRequestCorrelate = 52,
        OptionRequestRelaxed = 53, OptionConflate = 54,
        OptionCurveServer = 47, OptionCurvePublicKey = 48, OptionCurveSecretKey = 49, OptionCurveServerKey = 50;
    internal const int DontWait = 1;
    internal const short PollIn = 1;
    internal const int EINTR = 4, EAGAIN = 11;
    private const int HausNumero = 156384712;
    internal const int EFSM = HausNumero + 51, ETERM = HausNumero + 53;

    /// <summary>zmq_msg_t: 64 bytes, pointer-aligned.</summary>
    internal const int MessageSize = 64;

    // void zmq_version(int* major, int* minor, int* patch)
    [LibraryImport(Library, EntryPoint = "zmq_version")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void Version(out int major, out int minor, out int patch);

    // int zmq_errno(void)
    [LibraryImport(Library, EntryPoint = "zmq_errno")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Errno();

    // const char* zmq_strerror(int errnum)
    [LibraryImport(Library, EntryPoint = "zmq_strerror")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* StrError(int errnum);

    // void* zmq_ctx_new(void)
    [LibraryImport(Library, EntryPoint = "zmq_ctx_new")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial nint ContextNew();

    // int zmq_ctx_term(void* context)
    [LibraryImport(Library, EntryPoint = "zmq_ctx_term")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ContextTerm(nint context);

    // void* zmq_socket(void* context, int type)
    [LibraryImport(Library, EntryPoint = "zmq_socket")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial nint Socket(nint context, int type);

    // int zmq_close(void* socket)
    [LibraryImport(Library, EntryPoint = "zmq_close")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Close(nint socket);

    // int zmq_curve_keypair(char* z85_public_key, char* z85_secret_key)
    [LibraryImport(Library, EntryPoint = "zmq_curve_keypair")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int CurveKeyPair(byte* publicKey, byte* secretKey);

    // int zmq_curve_public(char* z85_public_key, const char* z85_secret_key)
    [LibraryImport(Library, EntryPoint = "zmq_curve_public")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int CurvePublic(byte* publicKey, byte* secretKey);

    // int zmq_has(const char* capability)
    [LibraryImport(Library, EntryPoint = "zmq_has", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Has(string capability);

    // int zmq_setsockopt(void* socket, int option, const void* value, size_t length)
    [LibraryImport(Library, EntryPoint = "zmq_setsockopt")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int SetSocketOption(nint socket, int option, void* value, nuint length);

    // int zmq_getsockopt(void* socket, int option, void* value, size_t* length)
    [LibraryImport(Library, EntryPoint = "zmq_getsockopt")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int GetSocketOption(nint socket, int option, void* value, nuint* length);

    // int zmq_bind(void* socket, const char* endpoint)
    [LibraryImport(Library, EntryPoint = "zmq_bind", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Bind(nint socket, string endpoint);

    // int zmq_connect(void* socket, const char* endpoint)
    [LibraryImport(Library, EntryPoint = "zmq_connect", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Connect(nint socket, string endpoint);

    // int zmq_send(void* socket, const void* buffer, size_t length, int flags)
    [LibraryImport(Library, EntryPoint = "zmq_send")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Send(nint socket, byte* buffer, nuint length, int flags);

    // int zmq_msg_init(zmq_msg_t* message)
    [LibraryImport(Library, EntryPoint = "zmq_msg_init")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MessageInit(nint message);

    // int zmq_msg_close(zmq_msg_t* message)
    [LibraryImport(Library, EntryPoint = "zmq_msg_close")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MessageClose(nint message);

    // int zmq_msg_recv(zmq_msg_t* message, void* socket, int flags)
    [LibraryImport(Library, EntryPoint = "zmq_msg_recv")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MessageReceive(nint message, nint socket, int flags);

    // void* zmq_msg_data(zmq_msg_t* message)
    [LibraryImport(Library, EntryPoint = "zmq_msg_data")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* MessageData(nint message);

    // size_t zmq_msg_size(const zmq_msg_t* message)
    [LibraryImport(Library, EntryPoint = "zmq_msg_size")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial nuint MessageSizeOf(nint message);

    // int zmq_poll(zmq_pollitem_t* items, int count, long timeout_ms)
    [LibraryImport(Library, EntryPoint = "zmq_poll")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Poll(PollItem* items, int count, nint timeoutMilliseconds);

    /// <summary>zmq_pollitem_t: { void* socket; int fd; short events; short revents; }.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollItem
    {
        public nint Socket;
        public int FileDescriptor;
        public short Events;
        public short ReturnedEvents;
    }

    /// <summary>libzmq's message for <paramref name="errnum"/>.</summary>
    internal static string Describe(int errnum) => Marshal.PtrToStringUTF8((nint)StrError(errnum)) ?? $"error {errnum}";

    /// <summary>
    /// The one place a libzmq status becomes an exception: returns <paramref name="result"/> when it
    /// is not negative, otherwise throws a <see cref="ZmqException"/> naming <paramref name="operation"/>.
    /// </summary>
    internal static int Check(int result, string operation)
    {
        if (result >= 0)
            return result;
        var errnum = Errno();
        throw new ZmqException(errnum, $"{operation} failed: {Describe(errnum)} (errno {errnum})");
    }
}
