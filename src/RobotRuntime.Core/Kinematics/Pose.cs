namespace RobotRuntime.Kinematics;

/// <summary>
/// A rigid transform: a position in metres and a row-major 3×3 rotation matrix
/// (<c>R01</c> is row 0, column 1). A point p given in this pose's frame is R·p + (X, Y, Z) in
/// the parent frame, so the rotation's columns are the frame's axes seen from the parent.
/// </summary>
/// <remarks>
/// A plain value type: copying it copies 12 doubles and nothing is allocated. The fields are
/// public for speed; a pose built by hand must keep R orthonormal (the factories here do).
/// Real-time: every member but <see cref="ToString"/> allocates nothing and never throws (a
/// non-finite input gives NaN), given <see cref="Difference"/> a span of at least 6.
/// </remarks>
public struct Pose
{
    /// <summary>Position along the parent's x axis, m.</summary>
    public double X;

    /// <summary>Position along the parent's y axis, m.</summary>
    public double Y;

    /// <summary>Position along the parent's z axis, m.</summary>
    public double Z;

    /// <summary>Rotation entry row 0, column 0.</summary>
    public double R00;

    /// <summary>Rotation entry row 0, column 1.</summary>
    public double R01;

    /// <summary>Rotation entry row 0, column 2.</summary>
    public double R02;

    /// <summary>Rotation entry row 1, column 0.</summary>
    public double R10;

    /// <summary>Rotation entry row 1, column 1.</summary>
    public double R11;

    /// <summary>Rotation entry row 1, column 2.</summary>
    public double R12;

    /// <summary>Rotation entry row 2, column 0.</summary>
    public double R20;

    /// <summary>Rotation entry row 2, column 1.</summary>
    public double R21;

    /// <summary>Rotation entry row 2, column 2.</summary>
    public double R22;

    /// <summary>No translation, no rotation.</summary>
    public static Pose Identity => new() { R00 = 1, R11 = 1, R22 = 1 };

    /// <summary>
    /// A pose from a position (m) and roll, pitch, yaw (rad) in the URDF convention: fixed axes,
    /// R = Rz(yaw)·Ry(pitch)·Rx(roll).
    /// </summary>
    public static Pose FromXyzRpy(double x, double y, double z, double roll, double pitch, double yaw)
    {
        var (sr, cr) = Math.SinCos(roll);
        var (sp, cp) = Math.SinCos(pitch);
        var (sy, cy) = Math.SinCos(yaw);
        return new Pose
        {
            X = x, Y = y, Z = z,
            R00 = cy * cp, R01 = cy * sp * sr - sy * cr, R02 = cy * sp * cr + sy * sr,
            R10 = sy * cp, R11 = sy * sp * sr + cy * cr, R12 = sy * sp * cr - cy * sr,
            R20 = -sp, R21 = cp * sr, R22 = cp * cr,
        };
    }

    /// <summary>
    /// A pose from a position (m) and a quaternion (w, x, y, z), normalised here. A zero or
    /// non-finite quaternion gives NaN rotation entries.
    /// </summary>
    public static Pose FromQuaternion(double x, double y, double z, double qw, double qx, double qy, double qz)
    {
        // 2/|q|² folds the normalisation into the usual unit-quaternion formula.
        var s = 2 / (qw * qw + qx * qx + qy * qy + qz * qz);
        double xx = qx * qx * s, yy = qy * qy * s, zz = qz * qz * s;
        double xy = qx * qy * s, xz = qx * qz * s, yz = qy * qz * s;
        double wx = qw * qx * s, wy = qw * qy * s, wz = qw * qz * s;
        return new Pose
        {
            X = x, Y = y, Z = z,
            R00 = 1 - (yy + zz), R01 = xy - wz, R02 = xz + wy,
            R10 = xy + wz, R11 = 1 - (xx + zz), R12 = yz - wx,
            R20 = xz - wy, R21 = yz + wx, R22 = 1 - (xx + yy),
        };
    }

    /// <summary>
    /// This pose's rotation as a unit quaternion (w, x, y, z) with w ≥ 0, by Shepperd's method
    /// (the square root is taken of the largest of the four candidates, so it stays accurate at
    /// every angle, 180° included).
    /// </summary>
    public readonly void ToQuaternion(out double qw, out double qx, out double qy, out double qz)
    {
        var trace = R00 + R11 + R22;
        if (trace >= R00 && trace >= R11 && trace >= R22)
        {
            qw = 0.5 * Math.Sqrt(1 + trace);
            var f = 0.25 / qw;
            qx = (R21 - R12) * f;
            qy = (R02 - R20) * f;
            qz = (R10 - R01) * f;
        }
        else if (R00 >= R11 && R00 >= R22)
        {
            qx = 0.5 * Math.Sqrt(1 + R00 - R11 - R22);
            var f = 0.25 / qx;
            qw = (R21 - R12) * f;
            qy = (R01 + R10) * f;
            qz = (R02 + R20) * f;
        }
        else if (R11 >= R22)
        {
            qy = 0.5 * Math.Sqrt(1 - R00 + R11 - R22);
            var f = 0.25 / qy;
            qw = (R02 - R20) * f;
            qx = (R01 + R10) * f;
            qz = (R12 + R21) * f;
        }
        else
        {
            qz = 0.5 * Math.Sqrt(1 - R00 - R11 + R22);
            var f = 0.25 / qz;
            qw = (R10 - R01) * f;
            qx = (R02 + R20) * f;
            qy = (R12 + R21) * f;
        }
        // One sign of the double cover, and unit length even for a slightly non-orthonormal R.
        var scale = (qw < 0 ? -1 : 1) / Math.Sqrt(qw * qw + qx * qx + qy * qy + qz * qz);
        qw *= scale;
        qx *= scale;
        qy *= scale;
        qz *= scale;
    }

    /// <summary>
    /// Roll, pitch and yaw (rad) with R = Rz(yaw)·Ry(pitch)·Rx(roll), the inverse of
    /// <see cref="FromXyzRpy"/>; pitch in [−π/2, π/2]. At pitch ±π/2 (gimbal lock) roll is 0 and
    /// yaw carries the whole rotation about the vertical.
    /// </summary>
    public readonly void ToRpy(out double roll, out double pitch, out double yaw)
    {
        var cosPitch = Math.Sqrt(R00 * R00 + R10 * R10);
        pitch = Math.Atan2(-R20, cosPitch);
        if (cosPitch > 1e-12)
        {
            roll = Math.Atan2(R21, R22);
            yaw = Math.Atan2(R10, R00);
        }
        else
        {
            roll = 0;
            yaw = Math.Atan2(-R01, R11);
        }
    }

    /// <summary>The composition a·b: b's frame expressed through a (apply b, then a).</summary>
    public static Pose Multiply(in Pose a, in Pose b) => new()
    {
        X = a.R00 * b.X + a.R01 * b.Y + a.R02 * b.Z + a.X,
        Y = a.R10 * b.X + a.R11 * b.Y + a.R12 * b.Z + a.Y,
        Z = a.R20 * b.X + a.R21 * b.Y + a.R22 * b.Z + a.Z,
        R00 = a.R00 * b.R00 + a.R01 * b.R10 + a.R02 * b.R20,
        R01 = a.R00 * b.R01 + a.R01 * b.R11 + a.R02 * b.R21,
        R02 = a.R00 * b.R02 + a.R01 * b.R12 + a.R02 * b.R22,
        R10 = a.R10 * b.R00 + a.R11 * b.R10 + a.R12 * b.R20,
        R11 = a.R10 * b.R01 + a.R11 * b.R11 + a.R12 * b.R21,
        R12 = a.R10 * b.R02 + a.R11 * b.R12 + a.R12 * b.R22,
        R20 = a.R20 * b.R00 + a.R21 * b.R10 + a.R22 * b.R20,
        R21 = a.R20 * b.R01 + a.R21 * b.R11 + a.R22 * b.R21,
        R22 = a.R20 * b.R02 + a.R21 * b.R12 + a.R22 * b.R22,
    };

    /// <summary>The inverse transform (Rᵀ, −Rᵀ·p), exact for an orthonormal R.</summary>
    public readonly Pose Inverse() => new()
    {
        X = -(R00 * X + R10 * Y + R20 * Z),
        Y = -(R01 * X + R11 * Y + R21 * Z),
        Z = -(R02 * X + R12 * Y + R22 * Z),
        R00 = R00, R01 = R10, R02 = R20,
        R10 = R01, R11 = R11, R12 = R21,
        R20 = R02, R21 = R12, R22 = R22,
    };

    /// <summary>
    /// Rotate this pose's orientation by a rotation vector (axis·angle, rad) expressed in the BASE
    /// frame, i.e. R' = Exp(w)·R; and translate by (dx, dy, dz), m, in the base frame. The inverse of
    /// <see cref="Difference"/>: ApplyDelta(a, Difference(a, b)) = b.
    /// </summary>
    public static Pose ApplyDelta(in Pose pose, double dx, double dy, double dz, double rx, double ry, double rz)
    {
        var moved = Multiply(Exp(rx, ry, rz), pose);
        moved.X = pose.X + dx;
        moved.Y = pose.Y + dy;
        moved.Z = pose.Z + dz;
        return moved;
    }

    /// <summary>
    /// What takes <paramref name="a"/> to <paramref name="b"/>, written to
    /// <paramref name="sixVector"/> as [dx, dy, dz, rx, ry, rz]: the translation b − a (m) and the
    /// rotation vector Log(Rb·Raᵀ) (rad, base frame, angle in [0, π]).
    /// </summary>
    /// <remarks>Precondition: <paramref name="sixVector"/> holds at least 6 elements.</remarks>
    public static void Difference(in Pose a, in Pose b, Span<double> sixVector)
    {
        // Rb·Raᵀ; the translation this also computes is not used.
        var relative = Multiply(b, a.Inverse());
        relative.Log(out var rx, out var ry, out var rz);
        sixVector[5] = rz;
        sixVector[4] = ry;
        sixVector[3] = rx;
        sixVector[2] = b.Z - a.Z;
        sixVector[1] = b.Y - a.Y;
        sixVector[0] = b.X - a.X;
    }

    /// <summary>The rotation Exp(w) of a rotation vector (Rodrigues' formula), at the origin.</summary>
    internal static Pose Exp(double rx, double ry, double rz)
    {
        var squared = rx * rx + ry * ry + rz * rz;
        double a, b; // sin θ / θ and (1 − cos θ) / θ²
        if (squared < 1e-8)
        {
            // Taylor series: the closed forms lose digits as θ → 0; at θ² < 1e-8 the next terms are < 1e-17.
            a = 1 - squared / 6;
            b = 0.5 - squared / 24;
        }
        else
        {
            var angle = Math.Sqrt(squared);
            var (sin, cos) = Math.SinCos(angle);
            a = sin / angle;
            b = (1 - cos) / squared;
        }
        return new Pose
        {
            R00 = 1 - b * (ry * ry + rz * rz), R01 = b * rx * ry - a * rz, R02 = b * rx * rz + a * ry,
            R10 = b * rx * ry + a * rz, R11 = 1 - b * (rx * rx + rz * rz), R12 = b * ry * rz - a * rx,
            R20 = b * rx * rz - a * ry, R21 = b * ry * rz + a * rx, R22 = 1 - b * (rx * rx + ry * ry),
        };
    }

    /// <summary>
    /// The rotation vector of this pose's rotation (angle in [0, π]), through the quaternion so
    /// that it stays accurate near 0 and near π, where the trace formula's arccos does not.
    /// </summary>
    internal readonly void Log(out double rx, out double ry, out double rz)
    {
        ToQuaternion(out var qw, out var qx, out var qy, out var qz);
        var sinHalf = Math.Sqrt(qx * qx + qy * qy + qz * qz);
        // angle / sin(angle/2) with angle = 2·atan2(sinHalf, qw); its limit at 0 is 2/qw.
        var scale = sinHalf < 1e-12 ? 2 / qw : 2 * Math.Atan2(sinHalf, qw) / sinHalf;
        rx = qx * scale;
        ry = qy * scale;
        rz = qz * scale;
    }

    /// <summary>True when all twelve numbers are finite.</summary>
    public readonly bool IsFinite() =>
        double.IsFinite(X) && double.IsFinite(Y) && double.IsFinite(Z)
        && double.IsFinite(R00) && double.IsFinite(R01) && double.IsFinite(R02)
        && double.IsFinite(R10) && double.IsFinite(R11) && double.IsFinite(R12)
        && double.IsFinite(R20) && double.IsFinite(R21) && double.IsFinite(R22);

    /// <summary>
    /// The largest entry of |RᵀR − I|, plus a penalty of 1 when det R &lt; 0: 0 for an exact rotation.
    /// Chain validation uses it to refuse a hand-built pose that is not a rotation.
    /// </summary>
    internal readonly double OrthonormalityError()
    {
        var worst = 0.0;
        void Check(double value, double expected) => worst = Math.Max(worst, Math.Abs(value - expected));
        Check(R00 * R00 + R10 * R10 + R20 * R20, 1);
        Check(R01 * R01 + R11 * R11 + R21 * R21, 1);
        Check(R02 * R02 + R12 * R12 + R22 * R22, 1);
        Check(R00 * R01 + R10 * R11 + R20 * R21, 0);
        Check(R00 * R02 + R10 * R12 + R20 * R22, 0);
        Check(R01 * R02 + R11 * R12 + R21 * R22, 0);
        var determinant = R00 * (R11 * R22 - R12 * R21) - R01 * (R10 * R22 - R12 * R20) + R02 * (R10 * R21 - R11 * R20);
        return determinant < 0 ? worst + 1 : worst;
    }

    /// <inheritdoc/>
    public override readonly string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"Pose(xyz=[{X:G6}, {Y:G6}, {Z:G6}], R=[[{R00:G6}, {R01:G6}, {R02:G6}], [{R10:G6}, {R11:G6}, {R12:G6}], [{R20:G6}, {R21:G6}, {R22:G6}]])");
}
