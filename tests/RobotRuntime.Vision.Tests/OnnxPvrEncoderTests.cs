using System.Text.Json;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Testing;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Vision.Tests;

/// <summary>
/// Frames → preprocessing → ONNX Runtime → embedding, on the project's test PVRs
/// (models/test/test-zoo.json). The reference embedding is NumPy's (float64 convolution of the
/// PyTorch-resized, normalised frame) from make_test_models.py; tolerance 1e-4 absolute.
/// </summary>
public sealed class OnnxPvrEncoderTests
{
    private static readonly PvrZoo Zoo = PvrZoo.Load(Path.Combine(Repo.TestModels, "test-zoo.json"));

    private static (CameraFrame Frame, float[] Embedding) Reference()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.TestModels, "conv_encoder.frame.reference.json")));
        var frame = document.RootElement.GetProperty("frame");
        var camera = new CameraFrame(frame.GetProperty("width").GetInt32(), frame.GetProperty("height").GetInt32());
        frame.GetProperty("rgb").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray().CopyTo(camera.Pixels, 0);
        return (camera, document.RootElement.GetProperty("embedding").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray());
    }

    private static OnnxPvrEncoder Create(string id, int cameras, int width = 32, int height = 24)
    {
        var model = Zoo.Get(id);
        return new OnnxPvrEncoder(model, Zoo.ResolveFile(model), cameras, width, height);
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f, $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData("test-conv")]
    [InlineData("test-conv-batched")]
    public void TwoCamerasEncodeToTheReferenceEmbeddingEach(string id)
    {
        var (frame, expected) = Reference();
        var other = new CameraFrame(frame.Width, frame.Height); // a black frame for the second camera
        using var encoder = Create(id, cameras: 2);
        var embedding = new float[encoder.EmbeddingSize];

        Assert.Equal(EncodeStatus.Ok, encoder.Encode([frame, other], embedding));

        Assert.Equal(id == "test-conv-batched", encoder.Batched);
        Assert.Equal(8, encoder.EmbeddingSize);
        AssertClose(expected, embedding.AsSpan(0, 4));
        Assert.Equal(EncodeStatus.Ok, encoder.Encode([other, frame], embedding));
        AssertClose(expected, embedding.AsSpan(4, 4));
    }

    [Fact]
    public void EncodingAllocatesNothingInSteadyState()
    {
        var (frame, _) = Reference();
        using var encoder = Create("test-conv-batched", cameras: 2);
        var embedding = new float[encoder.EmbeddingSize];
        CameraFrame[] frames = [frame, frame];
        for (var i = 0; i < 10; i++)
            encoder.Encode(frames, embedding);

        Assert.Equal(0, ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 200; i++)
                encoder.Encode(frames, embedding);
        }));
    }

    [Fact]
    public void CameraToEmbeddingAllocatesNothingPerFrame()
    {
        // The whole per-frame path: newest frame from the capture thread, preprocess, encode.
        using var wrist = new Cameras.SyntheticCameraSource("wrist", 32, 24, fps: 1000);
        using var top = new Cameras.SyntheticCameraSource("top", 32, 24, fps: 1000);
        wrist.Start();
        top.Start();
        using var encoder = Create("test-conv-batched", cameras: 2);
        CameraFrame[] frames = [new CameraFrame(32, 24), new CameraFrame(32, 24)];
        var embedding = new float[encoder.EmbeddingSize];
        var maxAge = TimeSpan.FromSeconds(1);
        Assert.Equal(CameraReadStatus.Ok, wrist.Read(frames[0], TimeSpan.FromSeconds(10)));
        Assert.Equal(CameraReadStatus.Ok, top.Read(frames[1], TimeSpan.FromSeconds(10)));
        for (var i = 0; i < 10; i++)
        {
            wrist.TryReadLatest(maxAge, frames[0]);
            top.TryReadLatest(maxAge, frames[1]);
            encoder.Encode(frames, embedding);
        }

        var ok = 0;
        long allocated = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 300; i++)
            {
                if (wrist.TryReadLatest(maxAge, frames[0]) == CameraReadStatus.Ok
                    && top.TryReadLatest(maxAge, frames[1]) == CameraReadStatus.Ok
                    && encoder.Encode(frames, embedding) == EncodeStatus.Ok)
                    ok++;
            }
        });

        Assert.Equal(0, allocated);
        Assert.Equal(300, ok);
    }

    [Fact]
    public void NaNFromTheNetworkIsReportedNotPassedOn()
    {
        using var encoder = Create("test-nan", cameras: 1, width: 4, height: 4);
        var embedding = new float[encoder.EmbeddingSize];
        Assert.Equal(EncodeStatus.NonFinite, encoder.Encode([new CameraFrame(4, 4)], embedding));
    }

    [Fact]
    public void WrongFramesAreRefusedWithoutRunning()
    {
        using var encoder = Create("test-conv", cameras: 2);
        var embedding = new float[encoder.EmbeddingSize];
        Assert.Equal(EncodeStatus.WrongInput, encoder.Encode([new CameraFrame(32, 24)], embedding));
        Assert.Equal(EncodeStatus.WrongInput, encoder.Encode([new CameraFrame(32, 24), new CameraFrame(16, 16)], embedding));
        Assert.Equal(EncodeStatus.WrongInput, encoder.Encode([new CameraFrame(32, 24), new CameraFrame(32, 24)], new float[3]));
    }

    [Fact]
    public void AModelThatDoesNotMatchItsZooEntryIsRejectedWithTheDifference()
    {
        var model = Zoo.Get("test-conv");
        var path = Zoo.ResolveFile(model);

        var size = Assert.Throws<InvalidDataException>(() => new OnnxPvrEncoder(model with { Preprocess = model.Preprocess with { Height = 32, Width = 32 } }, path, 1, 32, 24));
        Assert.Contains("input pixels: float32[1,3,16,16] does not take the zoo's float32[batch,3,32,32]", size.Message);

        var embedding = Assert.Throws<InvalidDataException>(() => new OnnxPvrEncoder(model with { EmbeddingSize = 384 }, path, 1, 32, 24));
        Assert.Contains("the zoo says the embedding has 384 floats, the model gives 4", embedding.Message);

        var output = Assert.Throws<InvalidDataException>(() => new OnnxPvrEncoder(model with { OutputName = "tokens" }, path, 1, 32, 24));
        Assert.Contains("has no output 'tokens'", output.Message);

        var selector = Assert.Throws<InvalidDataException>(() => new OnnxPvrEncoder(model with { Selector = EmbeddingSelector.Cls }, path, 1, 32, 24));
        Assert.Contains("needs tokens [batch, T, D], got [1,4]", selector.Message);
    }
}
