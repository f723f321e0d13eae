using System.Text.Json;
using RobotRuntime.Testing;
using RobotRuntime.Vision.Preprocessing;

namespace RobotRuntime.Vision.Tests;

public sealed class PreprocessingTests
{
    private static readonly PreprocessSpec ImageNet16 = new()
    {
        Height = 16, Width = 16, Resize = ResizeMode.CenterCrop,
        Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
    };

    [Fact]
    public void CropResizeAndNormaliseMatchPyTorch()
    {
        // Reference: models/test/make_test_models.py — a 32x24 frame, centre crop 24x24,
        // F.interpolate(bilinear, align_corners=False), /255, ImageNet mean/std, in float32.
        // Bilinear weights differ from PyTorch's only in float rounding: 1e-4 absolute after normalisation.
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.TestModels, "conv_encoder.frame.reference.json")));
        var frame = document.RootElement.GetProperty("frame");
        var rgb = frame.GetProperty("rgb").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
        var expected = document.RootElement.GetProperty("preprocessed").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        var preprocessor = new ImagePreprocessor(ImageNet16, frame.GetProperty("width").GetInt32(), frame.GetProperty("height").GetInt32());
        var chw = new float[preprocessor.OutputLength];

        Assert.True(preprocessor.Run(rgb, chw));

        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - chw[i]) <= 1e-4f, $"element {i}: expected {expected[i]}, got {chw[i]}");
    }

    [Fact]
    public void SameSizeFramesAreOnlyReorderedAndNormalised()
    {
        var spec = new PreprocessSpec { Height = 1, Width = 2, Scale = 1, Mean = [1, 2, 3], Std = [2, 2, 2] };
        var preprocessor = new ImagePreprocessor(spec, 2, 1);
        var chw = new float[6];
        Assert.True(preprocessor.Run(new byte[] { 11, 12, 13, 21, 22, 23 }, chw));
        // Planes R, G, B; (p - mean) / std.
        Assert.Equal([5f, 10f, 5f, 10f, 5f, 10f], chw);
    }

    [Fact]
    public void BgrModelsGetTheChannelsSwapped()
    {
        var spec = new PreprocessSpec { Height = 1, Width = 1, Scale = 1, ColorOrder = ColorOrder.Bgr };
        var preprocessor = new ImagePreprocessor(spec, 1, 1);
        var chw = new float[3];
        Assert.True(preprocessor.Run(new byte[] { 10, 20, 30 }, chw));
        Assert.Equal([30f, 20f, 10f], chw);
    }

    [Fact]
    public void StretchUsesTheWholeFrame()
    {
        // A 4x1 frame dark on the left half, bright on the right, stretched to 2x1: one pixel each.
        var spec = new PreprocessSpec { Height = 1, Width = 2, Scale = 1, Resize = ResizeMode.Stretch };
        var preprocessor = new ImagePreprocessor(spec, 4, 1);
        var chw = new float[6];
        byte[] rgb = [0, 0, 0, 0, 0, 0, 200, 200, 200, 200, 200, 200];
        Assert.True(preprocessor.Run(rgb, chw));
        Assert.Equal(0f, chw[0]);
        Assert.Equal(200f, chw[1]);
    }

    [Fact]
    public void WrongLengthsAreRefusedWithoutWriting()
    {
        var preprocessor = new ImagePreprocessor(ImageNet16, 16, 16);
        var chw = new float[preprocessor.OutputLength];
        Assert.False(preprocessor.Run(new byte[10], chw));
        Assert.All(chw, v => Assert.Equal(0f, v));
        Assert.False(preprocessor.Run(new byte[16 * 16 * 3], new float[5]));
    }

    [Fact]
    public void BadSpecsAreRejectedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => new ImagePreprocessor(ImageNet16 with { Std = [1, 0, 1] }, 16, 16));
        Assert.Contains("std values must be positive", error.Message);
    }

    [Fact]
    public void PreprocessingAllocatesNothing()
    {
        var preprocessor = new ImagePreprocessor(ImageNet16 with { Height = 112, Width = 112 }, 160, 120);
        var rgb = new byte[160 * 120 * 3];
        var chw = new float[preprocessor.OutputLength];
        preprocessor.Run(rgb, chw);
        Assert.Equal(0, ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 50; i++)
                preprocessor.Run(rgb, chw);
        }));
    }
}
