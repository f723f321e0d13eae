using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace RobotRuntime.Vision.Recording;

/// <summary>
/// Writes a Motion-JPEG AVI file that stays readable if the process dies while writing: every
/// frame goes to the operating system with one positional write as it is added (no user-space
/// buffering), and the header's sizes and frame count are rewritten after each frame, so a file
/// cut off by <c>kill -9</c> plays back every frame written before it. <see cref="Dispose"/> adds
/// the index (<c>idx1</c>) for fast seeking; readers such as FFmpeg and OpenCV do without it.
/// </summary>
/// <remarks>Not thread-safe; one writer thread. <see cref="SyncInterval"/> bounds what a power loss can take.</remarks>
public sealed class AviMjpegWriter : IDisposable
{
    // Offsets of the fields rewritten as the file grows (the header layout below is fixed).
    private const int RiffSizeOffset = 4;
    private const int AvihFlagsOffset = 44;
    private const int AvihTotalFramesOffset = 48;
    private const int StrhLengthOffset = 140;
    private const int MoviListSizeOffset = 216;
    private const int MoviFourCcOffset = 220;
    private const int HeaderSize = 224;
    private const uint HasIndexFlag = 0x10;

    private readonly SafeFileHandle _file;
    private readonly List<(uint Offset, uint Size)> _index = new(1024);
    private readonly byte[] _chunkHeader = new byte[8];
    private readonly byte[] _patch = new byte[4];
    private long _length;
    private long _lastSyncNs;
    private bool _disposed;

    /// <summary>Creates (or replaces) <paramref name="path"/> and writes the AVI header.</summary>
    /// <param name="path">The .avi file.</param>
    /// <param name="width">Frame width in pixels.</param>
    /// <param name="height">Frame height in pixels.</param>
    /// <param name="framesPerSecond">Nominal rate written in the header (per-frame times are in the sidecar).</param>
    public AviMjpegWriter(string path, int width, int height, double framesPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(framesPerSecond, 0);
        Path = System.IO.Path.GetFullPath(path);
        Width = width;
        Height = height;
        _file = File.OpenHandle(Path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        var header = BuildHeader(width, height, framesPerSecond);
        RandomAccess.Write(_file, header, 0);
        _length = header.Length;
        _lastSyncNs = Timing.MonotonicClock.NowNanoseconds;
    }

    /// <summary>The file being written.</summary>
    public string Path { get; }

    /// <summary>Frame width.</summary>
    public int Width { get; }

    /// <summary>Frame height.</summary>
    public int Height { get; }

    /// <summary>Frames written so far.</summary>
    public int FrameCount => _index.Count;

    /// <summary>How often written data is forced to the storage device (fsync); a power loss loses at most this much.</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Appends one JPEG-encoded frame.</summary>
    public void WriteFrame(ReadOnlySpan<byte> jpeg)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_length + 8 + jpeg.Length + 16L * (_index.Count + 1) + 8 > uint.MaxValue)
            throw new InvalidOperationException($"{Path} would pass the 4 GiB AVI limit; start a new file.");
        "00dc"u8.CopyTo(_chunkHeader);
        BinaryPrimitives.WriteUInt32LittleEndian(_chunkHeader.AsSpan(4), (uint)jpeg.Length);
        var chunkOffset = _length;
        RandomAccess.Write(_file, _chunkHeader, chunkOffset);
        RandomAccess.Write(_file, jpeg, chunkOffset + 8);
        _length += 8 + jpeg.Length;
        if ((jpeg.Length & 1) == 1)
        {
            RandomAccess.Write(_file, "\0"u8, _length);
            _length++;
        }
        _index.Add(((uint)(chunkOffset - MoviFourCcOffset), (uint)jpeg.Length));

        // Keep the header true for the file as it is now, so a reader accepts a cut-off file.
        Patch(AvihTotalFramesOffset, (uint)_index.Count);
        Patch(StrhLengthOffset, (uint)_index.Count);
        Patch(MoviListSizeOffset, (uint)(_length - MoviListSizeOffset - 4));
        Patch(RiffSizeOffset, (uint)(_length - 8));

        var now = Timing.MonotonicClock.NowNanoseconds;
        if (now - _lastSyncNs >= SyncInterval.Ticks * 100)
        {
            RandomAccess.FlushToDisk(_file);
            _lastSyncNs = now;
        }
    }

    private void Patch(long offset, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_patch, value);
        RandomAccess.Write(_file, _patch, offset);
    }

    /// <summary>Writes the index, marks the file as indexed, syncs it to disk and closes it.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            var index = new byte[8 + 16 * _index.Count];
            "idx1"u8.CopyTo(index);
            BinaryPrimitives.WriteUInt32LittleEndian(index.AsSpan(4), (uint)(16 * _index.Count));
            for (var i = 0; i < _index.Count; i++)
            {
                var entry = index.AsSpan(8 + 16 * i);
                "00dc"u8.CopyTo(entry);
                BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], 0x10); // AVIIF_KEYFRAME: every JPEG stands alone
                BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], _index[i].Offset);
                BinaryPrimitives.WriteUInt32LittleEndian(entry[12..], _index[i].Size);
            }
            RandomAccess.Write(_file, index, _length);
            _length += index.Length;
            Patch(RiffSizeOffset, (uint)(_length - 8));
            Patch(AvihFlagsOffset, HasIndexFlag);
            RandomAccess.FlushToDisk(_file);
        }
        finally
        {
            _file.Dispose();
        }
    }

    /// <summary>Closes the file the way a killed process would leave it: no index, nothing more written.</summary>
    internal void Abandon()
    {
        _disposed = true;
        _file.Dispose();
    }

    private static byte[] BuildHeader(int width, int height, double fps)
    {
        var h = new byte[HeaderSize];
        void U32(int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(at), v);
        void U16(int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(at), v);
        void Tag(int at, ReadOnlySpan<byte> fourCc) => fourCc.CopyTo(h.AsSpan(at));
        var microsecondsPerFrame = (uint)Math.Round(1e6 / fps);
        var frameBytes = (uint)(width * height * 3);

        Tag(0, "RIFF"u8); U32(4, HeaderSize - 8); Tag(8, "AVI "u8);
        Tag(12, "LIST"u8); U32(16, 192); Tag(20, "hdrl"u8);                 // hdrl: 4 + (8+56) + (8+116)
        Tag(24, "avih"u8); U32(28, 56);
        U32(32, microsecondsPerFrame); U32(36, 0); U32(40, 0); U32(44, 0);  // µs/frame, max bytes/s, padding, flags
        U32(48, 0); U32(52, 0); U32(56, 1); U32(60, frameBytes);            // total frames, initial frames, streams, buffer size
        U32(64, (uint)width); U32(68, (uint)height);                         // then 4 reserved words (72..87)
        Tag(88, "LIST"u8); U32(92, 116); Tag(96, "strl"u8);                 // strl: 4 + (8+56) + (8+40)
        Tag(100, "strh"u8); U32(104, 56);
        Tag(108, "vids"u8); Tag(112, "MJPG"u8); U32(116, 0); U32(120, 0);   // type, handler, flags, priority+language
        U32(124, 0);                                                         // initial frames
        U32(128, 1_000_000); U32(132, (uint)Math.Round(fps * 1_000_000));    // scale, rate: rate/scale = fps
        U32(136, 0); U32(140, 0); U32(144, frameBytes); U32(148, uint.MaxValue); U32(152, 0); // start, length, buffer, quality, sample size
        U16(156, 0); U16(158, 0); U16(160, (ushort)width); U16(162, (ushort)height); // frame rectangle
        Tag(164, "strf"u8); U32(168, 40);
        U32(172, 40); U32(176, (uint)width); U32(180, (uint)height);          // BITMAPINFOHEADER: size, width, height
        U16(184, 1); U16(186, 24); Tag(188, "MJPG"u8); U32(192, frameBytes);  // planes, bits, compression, image size
        U32(196, 0); U32(200, 0); U32(204, 0); U32(208, 0);                   // resolution, colours
        Tag(212, "LIST"u8); U32(216, 4); Tag(220, "movi"u8);
        return h;
    }
}
