namespace RobotRuntime.Transport.Zmq;

/// <summary>
/// A CURVE key pair in ZeroMQ's Z85 text (40 characters each). An arm that is reached over a network
/// binds its sockets as a CURVE server with its pair; the runtime connects knowing the arm's public key
/// (<c>arm.curve_public_key</c>), with a fresh pair of its own per run. Traffic is encrypted, and a
/// runtime talks only to the arm whose secret key matches — the arm protocol's shared secret (protocol
/// version 2) still decides who may command it.
/// </summary>
/// <param name="PublicKey">The public key (may be shown and copied).</param>
/// <param name="SecretKey">The secret key (keep it on the arm, mode 600).</param>
public sealed record CurveKeyPair(string PublicKey, string SecretKey)
{
    /// <summary>Whether this libzmq was built with CURVE (Debian's is).</summary>
    public static bool IsAvailable => ZmqNative.Has("curve") == 1;

    /// <summary>A new random key pair (libzmq's <c>zmq_curve_keypair</c>).</summary>
    /// <exception cref="NotSupportedException">libzmq without CURVE.</exception>
    public static unsafe CurveKeyPair Create()
    {
        RequireCurve();
        var publicKey = stackalloc byte[41];
        var secretKey = stackalloc byte[41];
        if (ZmqNative.CurveKeyPair(publicKey, secretKey) != 0)
            throw new ZmqException(ZmqNative.Errno(), "zmq_curve_keypair failed");
        return new CurveKeyPair(new string((sbyte*)publicKey, 0, 40), new string((sbyte*)secretKey, 0, 40));
    }

    /// <summary>The pair of a secret key (its public key derived).</summary>
    /// <exception cref="ArgumentException">Not a 40-character Z85 key.</exception>
    public static unsafe CurveKeyPair FromSecret(string secretKey)
    {
        RequireCurve();
        CheckKey(secretKey, "secret key");
        var publicKey = stackalloc byte[41];
        var secret = System.Text.Encoding.ASCII.GetBytes(secretKey + "\0");
        fixed (byte* s = secret)
            if (ZmqNative.CurvePublic(publicKey, s) != 0)
                throw new ArgumentException($"'{secretKey[..4]}…' is not a CURVE secret key");
        return new CurveKeyPair(new string((sbyte*)publicKey, 0, 40), secretKey);
    }

    /// <summary>Checks a key is 40 characters of Z85.</summary>
    /// <exception cref="ArgumentException">It is not; the message names <paramref name="what"/>.</exception>
    public static void CheckKey(string key, string what)
    {
        const string z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
        if (key is null || key.Length != 40 || key.Any(c => z85.IndexOf(c) < 0))
            throw new ArgumentException($"{what}: expected a CURVE key, 40 characters of Z85 (as rr keygen --curve prints), got {(key is null ? "nothing" : $"{key.Length} characters")}");
    }

    private static void RequireCurve()
    {
        if (!IsAvailable)
            throw new NotSupportedException("this libzmq was built without CURVE (zmq_has(\"curve\") is 0); Debian's libzmq5 has it");
    }

    /// <summary>Writes the pair to a file only its owner can read: "public KEY" and "secret KEY" lines.</summary>
    public void Save(string path)
    {
        var text = $"# CURVE key pair of an arm (rr keygen --curve). Give the public key to the runtime (arm.curve_public_key); keep this file on the arm.\npublic {PublicKey}\nsecret {SecretKey}\n";
        using (var stream = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None))
        {
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path + ".tmp", UnixFileMode.UserRead | UnixFileMode.UserWrite);
            stream.Write(System.Text.Encoding.ASCII.GetBytes(text));
        }
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>Reads a pair written by <see cref="Save"/> (the public key is re-derived from the secret and must match).</summary>
    /// <exception cref="InvalidDataException">Not such a file; the message names it.</exception>
    public static CurveKeyPair Load(string path)
    {
        string? secret = null, publicKey = null;
        foreach (var line in File.ReadAllLines(path))
        {
            if (line.StartsWith("secret ", StringComparison.Ordinal)) secret = line[7..].Trim();
            else if (line.StartsWith("public ", StringComparison.Ordinal)) publicKey = line[7..].Trim();
        }
        if (secret is null)
            throw new InvalidDataException($"CURVE key file {path}: no 'secret' line (make one with rr keygen --curve)");
        try
        {
            var pair = FromSecret(secret);
            if (publicKey is not null && publicKey != pair.PublicKey)
                throw new InvalidDataException($"CURVE key file {path}: its public key does not belong to its secret key");
            return pair;
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"CURVE key file {path}: {e.Message}", e);
        }
    }
}
