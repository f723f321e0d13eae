using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using OpenCvSharp;
using OpenCvSharp.Internal;

namespace RobotRuntime.Imaging;

/// <summary>A chessboard calibration target: its inner corners (columns × rows) and the side of one square.</summary>
/// <param name="Columns">Inner corners along a row (squares per row − 1).</param>
/// <param name="Rows">Inner corners along a column.</param>
/// <param name="SquareMetres">The side of one square, metres.</param>
public sealed record Chessboard(int Columns, int Rows, double SquareMetres)
{
    /// <summary>Parses "9x6" (inner corners) and a square size.</summary>
    /// <exception cref="ArgumentException">Not COLUMNSxROWS with both at least 3, or a square size that is not positive.</exception>
    public static Chessboard Parse(string corners, double squareMetres)
    {
        var parts = corners.Split('x', 'X');
        if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var columns) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var rows) || columns < 3 || rows < 3)
            throw new ArgumentException($"--board '{corners}': expected the inner corners as COLUMNSxROWS, each at least 3 (a 10×7-square board is 9x6)");
        if (!(squareMetres > 0 && squareMetres < 1))
            throw new ArgumentException($"--square {squareMetres.ToString(CultureInfo.InvariantCulture)}: expected the side of one square in metres, e.g. 0.025");
        return new Chessboard(columns, rows, squareMetres);
    }

    /// <summary>The inner corners on the board's plane (z = 0), row by row, metres.</summary>
    public Point3f[] Corners()
    {
        var points = new Point3f[Columns * Rows];
        for (var r = 0; r < Rows; r++)
            for (var c = 0; c < Columns; c++)
                points[r * Columns + c] = new Point3f((float)(c * SquareMetres), (float)(r * SquareMetres), 0);
        return points;
    }
}

/// <summary>
/// A camera's intrinsics at one image size: the camera matrix (fx, fy, cx, cy) and the distortion
/// coefficients (k1, k2, p1, p2, k3), from <see cref="Calibrator"/>; stored as JSON.
/// </summary>
public sealed record CameraCalibration
{
    /// <summary>Image width the intrinsics are for, pixels.</summary>
    public required int Width { get; init; }

    /// <summary>Image height the intrinsics are for, pixels.</summary>
    public required int Height { get; init; }

    /// <summary>Focal length along x, pixels.</summary>
    public required double Fx { get; init; }

    /// <summary>Focal length along y, pixels.</summary>
    public required double Fy { get; init; }

    /// <summary>Principal point x, pixels.</summary>
    public required double Cx { get; init; }

    /// <summary>Principal point y, pixels.</summary>
    public required double Cy { get; init; }

    /// <summary>k1, k2, p1, p2, k3 (OpenCV's order).</summary>
    public required double[] Distortion { get; init; }

    /// <summary>Root-mean-square reprojection error of the calibration, pixels.</summary>
    public double RmsPixels { get; init; }

    /// <summary>Views the calibration used.</summary>
    public int Views { get; init; }

    /// <summary>What it was made from, e.g. "chessboard 9x6, 0.025 m, camera front".</summary>
    public string Source { get; init; } = "";

    /// <summary>The 3×3 camera matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]].</summary>
    public double[,] CameraMatrix() => new[,] { { Fx, 0, Cx }, { 0, Fy, Cy }, { 0, 0, 1.0 } };

    /// <summary>OpenCV's calibrateCamera over paired object and image points, as a calibration.</summary>
    internal static CameraCalibration FromViews(IEnumerable<IEnumerable<Point3f>> objectPoints, IEnumerable<IEnumerable<Point2f>> imagePoints,
        int views, int width, int height, string source)
    {
        var camera = new double[3, 3];
        var distortion = new double[5];
        var rms = Cv2.CalibrateCamera(objectPoints, imagePoints, new Size(width, height), camera, distortion, out _, out _);
        return new CameraCalibration
        {
            Width = width, Height = height,
            Fx = camera[0, 0], Fy = camera[1, 1], Cx = camera[0, 2], Cy = camera[1, 2],
            Distortion = distortion, RmsPixels = rms, Views = views, Source = source,
        };
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.Strict };

    /// <summary>Writes the calibration as JSON (temporary file, then rename).</summary>
    public void Save(string path)
    {
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(this, Json));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>Reads a calibration written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">Not a calibration, or values that cannot be; the message names the file.</exception>
    public static CameraCalibration Load(string path)
    {
        CameraCalibration? calibration;
        try
        {
            calibration = JsonSerializer.Deserialize<CameraCalibration>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"camera calibration {path}: not a calibration file ({e.Message})", e);
        }
        if (calibration is null || calibration.Width < 1 || calibration.Height < 1 || !(calibration.Fx > 0) || !(calibration.Fy > 0) || calibration.Distortion is not { Length: 5 })
            throw new InvalidDataException($"camera calibration {path}: expected width, height, fx, fy > 0, cx, cy and 5 distortion coefficients");
        return calibration;
    }
}

/// <summary>Finds chessboard corners and calibrates a camera from them (OpenCV's calib3d).</summary>
public static class Calibrator
{
    /// <summary>The board's inner corners in an RGB image, refined to sub-pixel; null when the whole board is not seen.</summary>
    public static Point2f[]? FindCorners(ReadOnlySpan<byte> rgb, int width, int height, Chessboard board)
    {
        ArgumentNullException.ThrowIfNull(board);
        _ = OpenCvSharpLibrary.Version;
        using var bgr = new Mat(height, width, MatType.CV_8UC3);
        RgbMat.CopyInAsBgr(rgb, bgr);
        using var grey = new Mat();
        Cv2.CvtColor(bgr, grey, ColorConversionCodes.BGR2GRAY);
        if (!Cv2.FindChessboardCorners(grey, new Size(board.Columns, board.Rows), out var corners, ChessboardFlags.AdaptiveThresh | ChessboardFlags.NormalizeImage))
            return null;
        return Cv2.CornerSubPix(grey, corners, new Size(5, 5), new Size(-1, -1), new TermCriteria(CriteriaTypes.Eps | CriteriaTypes.MaxIter, 30, 0.01));
    }

    /// <summary>Calibrates from the corners found in several views of the board.</summary>
    /// <exception cref="ArgumentException">Fewer than 3 views.</exception>
    public static CameraCalibration Calibrate(IReadOnlyList<Point2f[]> views, Chessboard board, int width, int height, string source)
    {
        ArgumentNullException.ThrowIfNull(views);
        if (views.Count < 3)
            throw new ArgumentException($"calibration needs the board in at least 3 views (10–20 at different angles is better), got {views.Count}");
        return CameraCalibration.FromViews(Enumerable.Repeat(board.Corners(), views.Count), views, views.Count, width, height, source);
    }
}

/// <summary>
/// Removes lens distortion from RGB frames of one size with maps computed once from a calibration
/// (the same camera matrix kept, so the encoder sees the same field of view). Applying allocates
/// nothing managed (OpenCV's native proxies are made once); one thread at a time.
/// </summary>
public sealed class Undistorter : IDisposable
{
    private readonly Mat _mapX = new(), _mapY = new();
    private readonly Mat _source, _target;
    private readonly nint _sourceIn, _targetOut, _mapXIn, _mapYIn;
    private GCHandle _sourcePin, _targetPin;
    private bool _disposed;

    /// <summary>Prepares the maps for <paramref name="calibration"/>'s image size.</summary>
    public Undistorter(CameraCalibration calibration)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        _ = OpenCvSharpLibrary.Version;
        Width = calibration.Width;
        Height = calibration.Height;
        using var camera = Mat.FromArray(calibration.CameraMatrix());
        using var distortion = Mat.FromArray(calibration.Distortion);
        using var identity = new Mat();
        Cv2.InitUndistortRectifyMap(camera, distortion, identity, camera, new Size(Width, Height), MatType.CV_32FC1, _mapX, _mapY);
        SourceBuffer = new byte[Width * Height * 3];
        TargetBuffer = new byte[Width * Height * 3];
        _sourcePin = GCHandle.Alloc(SourceBuffer, GCHandleType.Pinned);
        _targetPin = GCHandle.Alloc(TargetBuffer, GCHandleType.Pinned);
        _source = Mat.FromPixelData(Height, Width, MatType.CV_8UC3, _sourcePin.AddrOfPinnedObject());
        _target = Mat.FromPixelData(Height, Width, MatType.CV_8UC3, _targetPin.AddrOfPinnedObject());
        NativeMethods.HandleException(NativeMethods.core_InputArray_new_byMat(_source.CvPtr, out _sourceIn));
        NativeMethods.HandleException(NativeMethods.core_OutputArray_new_byMat(_target.CvPtr, out _targetOut));
        NativeMethods.HandleException(NativeMethods.core_InputArray_new_byMat(_mapX.CvPtr, out _mapXIn));
        NativeMethods.HandleException(NativeMethods.core_InputArray_new_byMat(_mapY.CvPtr, out _mapYIn));
    }

    /// <summary>Frame width, pixels.</summary>
    public int Width { get; }

    /// <summary>Frame height, pixels.</summary>
    public int Height { get; }

    /// <summary>Where the distorted frame is put before <see cref="Apply()"/>.</summary>
    public byte[] SourceBuffer { get; }

    /// <summary>Where <see cref="Apply()"/> writes the undistorted frame.</summary>
    public byte[] TargetBuffer { get; }

    /// <summary>Undistorts <see cref="SourceBuffer"/> into <see cref="TargetBuffer"/> (bilinear; pixels that come from outside the image are black).</summary>
    /// <exception cref="ObjectDisposedException">The undistorter was disposed (its native maps are freed).</exception>
    public void Apply()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        NativeMethods.HandleException(NativeMethods.imgproc_remap(_sourceIn, _targetOut, _mapXIn, _mapYIn, (int)InterpolationFlags.Linear, (int)BorderTypes.Constant, new Scalar(0)));
    }

    /// <summary>Undistorts <paramref name="rgb"/> in place.</summary>
    public void Apply(Span<byte> rgb)
    {
        rgb.CopyTo(SourceBuffer);
        Apply();
        TargetBuffer.CopyTo(rgb);
    }

    /// <summary>Frees the native maps and arrays; a second call does nothing (the arrays' native deletes must run once).</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        NativeMethods.core_InputArray_delete(_sourceIn);
        NativeMethods.core_OutputArray_delete(_targetOut);
        NativeMethods.core_InputArray_delete(_mapXIn);
        NativeMethods.core_InputArray_delete(_mapYIn);
        _source.Dispose();
        _target.Dispose();
        _mapX.Dispose();
        _mapY.Dispose();
        if (_sourcePin.IsAllocated) _sourcePin.Free();
        if (_targetPin.IsAllocated) _targetPin.Free();
    }
}

/// <summary>
/// Renders a chessboard as a camera with known intrinsics and distortion sees it (for tests and for
/// checking a calibration): every square is projected through OpenCV's camera model and filled.
/// </summary>
public static class SyntheticChessboard
{
    /// <summary>An RGB image of <paramref name="board"/> (with a one-square white margin) seen by <paramref name="camera"/> at the pose (<paramref name="rotation"/> Rodrigues vector, <paramref name="translation"/> metres).</summary>
    public static byte[] Render(Chessboard board, CameraCalibration camera, double[] rotation, double[] translation)
    {
        _ = OpenCvSharpLibrary.Version;
        var matrix = camera.CameraMatrix();
        using var image = new Mat(camera.Height, camera.Width, MatType.CV_8UC3, new Scalar(90, 90, 90));
        var s = board.SquareMetres;
        // Squares from −1 to Columns (one beyond the inner corners on each side), plus a white margin.
        int squaresX = board.Columns + 1, squaresY = board.Rows + 1;
        void Fill(double x0, double y0, double x1, double y1, Scalar colour)
        {
            // Subdivide each quad so that distortion bends its edges as a lens would.
            const int n = 4;
            for (var i = 0; i < n; i++)
                for (var j = 0; j < n; j++)
                {
                    double ax = x0 + (x1 - x0) * i / n, bx = x0 + (x1 - x0) * (i + 1) / n;
                    double ay = y0 + (y1 - y0) * j / n, by = y0 + (y1 - y0) * (j + 1) / n;
                    Cv2.ProjectPoints([new Point3f((float)ax, (float)ay, 0), new Point3f((float)bx, (float)ay, 0), new Point3f((float)bx, (float)by, 0), new Point3f((float)ax, (float)by, 0)],
                        rotation, translation, matrix, camera.Distortion, out var projected, out _);
                    Cv2.FillConvexPoly(image, projected.Select(p => new Point((int)Math.Round(p.X * 16), (int)Math.Round(p.Y * 16))), colour, LineTypes.AntiAlias, 4);
                }
        }
        Fill(-2 * s, -2 * s, board.Columns * s + s, board.Rows * s + s, new Scalar(255, 255, 255));
        for (var r = 0; r < squaresY; r++)
            for (var c = 0; c < squaresX; c++)
                if ((r + c) % 2 == 0)
                    Fill((c - 1) * s, (r - 1) * s, c * s, r * s, new Scalar(0, 0, 0));
        var rgb = new byte[camera.Width * camera.Height * 3];
        RgbMat.CopyOutAsRgb(image, rgb);
        return rgb;
    }
}
