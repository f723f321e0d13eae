using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace RobotRuntime.Tensors.Serialization;

/// <summary>
/// Reads and writes the safetensors format (an 8-byte little-endian header length, a JSON header
/// mapping each name to dtype, shape and data offsets, then the raw little-endian data). Only
/// float32 ("F32") tensors are supported.
/// </summary>
/// <remarks>
/// Setup only. <see cref="Save(string, IEnumerable{KeyValuePair{string, Tensor}}, IReadOnlyDictionary{string, string}?)"/>
/// writes to a temporary file in the same folder, flushes it to disk and renames it over the
/// target, so a crash leaves either the old checkpoint or the new one, never a torn file.
/// </remarks>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>Writes <paramref name="tensors"/> (name → tensor) and optional string metadata to <paramref name="path"/> atomically.</summary>
    /// <exception cref="ArgumentException">A name is empty, repeated, or "__metadata__".</exception>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in list)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__" || !names.Add(name))
            {
                throw new ArgumentException($"Tensor name '{name}' is empty, reserved or repeated; each tensor needs a unique name.", nameof(tensors));
            }
        }
        byte[] header = BuildHeader(list, metadata);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var (_, tensor) in list)
                {
                    WriteFloats(stream, tensor.Span);
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes every parameter under its <see cref="Parameter.Name"/> (a checkpoint).</summary>
    public static void Save(string path, IEnumerable<Parameter> parameters, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Save(path, parameters.Select(p => KeyValuePair.Create(p.Name, p.Value)), metadata);
    }

    /// <summary>Reads every tensor of a safetensors file into new tensors, by name.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid safetensors or holds a dtype other than F32.</exception>
    public static Dictionary<string, Tensor> Load(string path) => Load(path, out _);

    /// <summary>Reads every tensor and the string metadata of a safetensors file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid safetensors or holds a dtype other than F32.</exception>
    public static Dictionary<string, Tensor> Load(string path, out Dictionary<string, string> metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Safetensors file '{path}' does not exist.", path);
        }
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8)
        {
            throw new InvalidDataException($"'{path}' has {bytes.Length} bytes; a safetensors file starts with an 8-byte header length.");
        }
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)Math.Min(MaxHeaderBytes, bytes.Length - 8))
        {
            throw new InvalidDataException($"'{path}' announces a {headerLength}-byte header but the file has {bytes.Length} bytes.");
        }
        int dataStart = 8 + (int)headerLength;
        long dataLength = bytes.Length - dataStart;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' has a header that is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    foreach (var m in entry.Value.EnumerateObject())
                    {
                        metadata[m.Name] = m.Value.GetString() ?? "";
                    }
                    continue;
                }
                string dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
                if (dtype != "F32")
                {
                    throw new InvalidDataException($"Tensor '{entry.Name}' in '{path}' has dtype {dtype}; only F32 is supported.");
                }
                int[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                long expected = 4L * Tensor.CheckedLength(shape, "shape");
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] > dataLength || offsets[1] - offsets[0] != expected)
                {
                    throw new InvalidDataException(
                        $"Tensor '{entry.Name}' in '{path}' has data_offsets [{string.Join(", ", offsets)}], but shape {Tensor.Format(shape)} needs {expected} bytes within the {dataLength}-byte data section.");
                }
                var tensor = Tensor.Zeros(shape);
                var source = bytes.AsSpan(dataStart + (int)offsets[0], (int)expected);
                if (BitConverter.IsLittleEndian)
                {
                    source.CopyTo(MemoryMarshal.AsBytes(tensor.Span));
                }
                else
                {
                    for (int i = 0; i < tensor.Length; i++)
                    {
                        tensor.Span[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                    }
                }
                result[entry.Name] = tensor;
            }
        }
        return result;
    }

    /// <summary>
    /// Copies the tensors of a checkpoint into <paramref name="parameters"/> by name. With
    /// <paramref name="strict"/>, every parameter must be present; shapes must always match.
    /// Returns the number of parameters loaded.
    /// </summary>
    /// <exception cref="InvalidDataException">A parameter is missing (strict) or has a different shape in the file.</exception>
    public static int LoadInto(string path, IEnumerable<Parameter> parameters, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var tensors = Load(path);
        int loaded = 0;
        foreach (var p in parameters)
        {
            if (!tensors.TryGetValue(p.Name, out var t))
            {
                if (strict)
                {
                    throw new InvalidDataException($"'{path}' has no tensor named '{p.Name}' (shape {p.Value.ShapeString} expected).");
                }
                continue;
            }
            if (!t.Shape.SequenceEqual(p.Value.Shape))
            {
                throw new InvalidDataException($"Tensor '{p.Name}' in '{path}' has shape {t.ShapeString} but the parameter has shape {p.Value.ShapeString}.");
            }
            t.Span.CopyTo(p.Value.Span);
            loaded++;
        }
        return loaded;
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata)
                {
                    json.WriteString(k, v);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in tensor.Shape)
                {
                    json.WriteNumberValue(d);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += 4L * tensor.Length;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned (the format's recommendation).
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        var header = new byte[padded];
        buffer.ToArray().CopyTo(header, 0);
        header.AsSpan((int)buffer.Length).Fill((byte)' ');
        return header;
    }

    private static void WriteFloats(Stream stream, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        Span<byte> four = stackalloc byte[4];
        foreach (float v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(four, v);
            stream.Write(four);
        }
    }

    /// <summary>The JSON header of a safetensors file as text (diagnostics and tests).</summary>
    internal static string HeaderText(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return Encoding.UTF8.GetString(bytes, 8, length);
    }
}
