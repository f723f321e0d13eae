using OpenCvSharp.Aruco;

namespace RobotRuntime.Imaging.Tests;

/// <summary>
/// ChArUco calibration on views of OpenCV's own ChArUco board image rendered through OpenCV's camera
/// model with known intrinsics and distortion (SyntheticView), some of them with part of the board
/// outside the image — the case a chessboard cannot handle.
/// </summary>
public sealed class CharucoTests
{
    private static readonly CharucoTarget Target = new(7, 5, 0.03, 0.022, PredefinedDictionaryType.Dict4X4_50);

    private static readonly CameraCalibration Truth = new()
    {
        Width = 320, Height = 240, Fx = 300, Fy = 296, Cx = 158, Cy = 123, Distortion = [-0.22, 0.06, 0, 0, 0],
    };

    [Fact]
    public void PartialViewsOfTheBoardCalibrateToTheIntrinsicsTheyWereRenderedWith()
    {
        using var texture = Target.Image(pixelsPerSquare: 60);
        var random = new Random(3);
        var views = new List<(int[] Ids, OpenCvSharp.Point2f[] Corners)>();
        var partial = 0;
        for (var i = 0; i < 14; i++)
        {
            double[] rotation = [(random.NextDouble() - 0.5) * 0.8, (random.NextDouble() - 0.5) * 0.8, (random.NextDouble() - 0.5) * 0.4];
            // Half the views are shifted so that part of the board falls outside the image.
            var shift = i % 2 == 0 ? 0.0 : 0.06;
            double[] translation = [-0.105 + shift + (random.NextDouble() - 0.5) * 0.04, -0.075 + (random.NextDouble() - 0.5) * 0.04, 0.3 + random.NextDouble() * 0.08];
            var image = SyntheticView.Render(texture, Target.SquaresX * Target.SquareMetres, Truth, rotation, translation);
            if (Target.Find(image, Truth.Width, Truth.Height) is { } found)
            {
                views.Add(found);
                if (found.Ids.Length < Target.CornerCount)
                    partial++;
            }
        }
        Assert.True(views.Count >= 10, $"the board was found in {views.Count} of 14 views");
        Assert.True(partial >= 3, $"only {partial} views were partial");

        var calibration = CharucoCalibrator.Calibrate(views, Target, Truth.Width, Truth.Height, "synthetic charuco");

        Assert.InRange(calibration.RmsPixels, 0, 0.6);
        Assert.InRange(Math.Abs(calibration.Fx / Truth.Fx - 1), 0, 0.03);
        Assert.InRange(Math.Abs(calibration.Fy / Truth.Fy - 1), 0, 0.03);
        Assert.InRange(Math.Abs(calibration.Cx - Truth.Cx), 0, 4);
        Assert.InRange(Math.Abs(calibration.Cy - Truth.Cy), 0, 4);
        Assert.InRange(calibration.Distortion[0], Truth.Distortion[0] - 0.06, Truth.Distortion[0] + 0.06);
    }

    [Fact]
    public void TheBoardSpecIsParsedAndABadOneIsExplained()
    {
        Assert.Equal(new CharucoTarget(5, 7, 0.04, 0.03, PredefinedDictionaryType.Dict4X4_50), CharucoTarget.Parse("charuco:5x7:0.04:0.03"));
        Assert.Equal(PredefinedDictionaryType.Dict5X5_100, CharucoTarget.Parse("charuco:5x7:0.04:0.03:DICT_5X5_100").Dictionary);
        Assert.Contains("the marker smaller than the square", Assert.Throws<ArgumentException>(() => CharucoTarget.Parse("charuco:5x7:0.03:0.04")).Message);
        Assert.Contains("unknown dictionary", Assert.Throws<ArgumentException>(() => CharucoTarget.Parse("charuco:5x7:0.04:0.03:DICT_9X9")).Message);
        Assert.Equal(6 * 4, Target.CornerCount);
        Assert.Equal(new OpenCvSharp.Point3f(0.03f, 0.03f, 0), Target.Corner(0));
        Assert.Equal(new OpenCvSharp.Point3f(0.06f, 0.06f, 0), Target.Corner(7));
    }
}
