using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Shifts;

/// <summary>
/// The model arrays visual shifts change (material, geom and light colours, light directions,
/// camera poses, texture pixels), with a copy of their values as loaded so every episode starts
/// from the unshifted scene.
/// </summary>
/// <remarks>One thread at a time; texture uploads happen on the renderer's thread.</remarks>
public sealed class SceneVisuals
{
    private readonly MjRenderer? _renderer;
    private readonly float[] _materialDefault, _geomDefault, _lightDiffuseDefault, _lightAmbientDefault, _lightSpecularDefault;
    private readonly double[] _lightDirDefault, _cameraPosDefault, _cameraQuatDefault;
    private readonly byte[] _textureDefault;
    private readonly bool[] _textureChanged, _gpuHasDefault;

    internal SceneVisuals(TabletopScene scene, MjRenderer? renderer)
    {
        Scene = scene;
        _renderer = renderer;
        var model = scene.Model;
        MaterialRgba = model.Field<float>("mat_rgba");
        GeomRgba = model.Field<float>("geom_rgba");
        LightDiffuse = model.Field<float>("light_diffuse");
        LightDirection = model.Field<double>("light_dir");
        LightAmbient = model.Field<float>("light_ambient");
        LightSpecular = model.Field<float>("light_specular");
        CameraPosition = model.Field<double>("cam_pos");
        CameraQuaternion = model.Field<double>("cam_quat");
        TextureRgb = model.Field<byte>("tex_rgb");
        _textureAddress = model.Field<int>("tex_adr");
        _textureWidth = model.Field<int>("tex_width");
        _textureHeight = model.Field<int>("tex_height");
        _materialDefault = MaterialRgba.Span.ToArray();
        _geomDefault = GeomRgba.Span.ToArray();
        _lightDiffuseDefault = LightDiffuse.Span.ToArray();
        _lightDirDefault = LightDirection.Span.ToArray();
        _lightAmbientDefault = LightAmbient.Span.ToArray();
        _lightSpecularDefault = LightSpecular.Span.ToArray();
        _cameraPosDefault = CameraPosition.Span.ToArray();
        _cameraQuatDefault = CameraQuaternion.Span.ToArray();
        _textureDefault = TextureRgb.Span.ToArray();
        _textureChanged = new bool[_textureAddress.Rows];
        _gpuHasDefault = Enumerable.Repeat(true, _textureAddress.Rows).ToArray();
    }

    private readonly MjField<int> _textureAddress, _textureWidth, _textureHeight;

    /// <summary>The scene whose model this changes.</summary>
    public TabletopScene Scene { get; }

    /// <summary><c>mat_rgba</c> (nmat × 4).</summary>
    public MjField<float> MaterialRgba { get; }

    /// <summary><c>geom_rgba</c> (ngeom × 4).</summary>
    public MjField<float> GeomRgba { get; }

    /// <summary><c>light_diffuse</c> (nlight × 3).</summary>
    public MjField<float> LightDiffuse { get; }

    /// <summary><c>light_dir</c> (nlight × 3).</summary>
    public MjField<double> LightDirection { get; }

    /// <summary><c>light_ambient</c> (nlight × 3); changed only by the collection's randomisation, never by a shift preset.</summary>
    public MjField<float> LightAmbient { get; }

    /// <summary><c>light_specular</c> (nlight × 3); changed only by the collection's randomisation, never by a shift preset.</summary>
    public MjField<float> LightSpecular { get; }

    /// <summary><c>cam_pos</c> (ncam × 3, relative to the camera's body).</summary>
    public MjField<double> CameraPosition { get; }

    /// <summary><c>cam_quat</c> (ncam × 4, w x y z, relative to the camera's body).</summary>
    public MjField<double> CameraQuaternion { get; }

    /// <summary><c>tex_rgb</c>: every texture's pixels, 3 bytes each.</summary>
    public MjField<byte> TextureRgb { get; }

    /// <summary>The pixels of texture <paramref name="textureId"/> (width × height × 3 bytes) and its size; marks it for upload.</summary>
    public Span<byte> EditTexture(int textureId, out int width, out int height)
    {
        width = _textureWidth.Span[textureId];
        height = _textureHeight.Span[textureId];
        _textureChanged[textureId] = true;
        return TextureRgb.Span.Slice(_textureAddress.Span[textureId], width * height * 3);
    }

    /// <summary>The loaded RGB (0..1) of material <paramref name="materialId"/>.</summary>
    public (float R, float G, float B) DefaultMaterial(int materialId) =>
        (_materialDefault[4 * materialId], _materialDefault[4 * materialId + 1], _materialDefault[4 * materialId + 2]);

    /// <summary>The loaded first pixel of texture <paramref name="textureId"/> as RGB in 0..1.</summary>
    public (float R, float G, float B) DefaultTexturePixel(int textureId)
    {
        var address = _textureAddress.Span[textureId];
        return (_textureDefault[address] / 255f, _textureDefault[address + 1] / 255f, _textureDefault[address + 2] / 255f);
    }

    /// <summary>Puts every visual array back to its loaded values and parks the distractors inside the table.</summary>
    public void Restore()
    {
        _materialDefault.CopyTo(MaterialRgba.Span);
        _geomDefault.CopyTo(GeomRgba.Span);
        _lightDiffuseDefault.CopyTo(LightDiffuse.Span);
        _lightDirDefault.CopyTo(LightDirection.Span);
        _lightAmbientDefault.CopyTo(LightAmbient.Span);
        _lightSpecularDefault.CopyTo(LightSpecular.Span);
        _cameraPosDefault.CopyTo(CameraPosition.Span);
        _cameraQuatDefault.CopyTo(CameraQuaternion.Span);
        _textureDefault.CopyTo(TextureRgb.Span);
        for (var i = 0; i < _gpuHasDefault.Length; i++)
            _textureChanged[i] = !_gpuHasDefault[i];
        foreach (var mocap in Scene.DistractorMocap)
        {
            var p = Scene.MocapPos.Row(mocap);
            p[0] = 0.3;
            p[1] = 0;
            p[2] = -0.3;
        }
    }

    /// <summary>Sends changed textures to the renderer (no-op without one).</summary>
    public void UploadChangedTextures()
    {
        for (var i = 0; i < _textureChanged.Length; i++)
        {
            if (!_textureChanged[i])
                continue;
            _renderer?.UploadTexture(i);
            _gpuHasDefault[i] = TextureRgb.Span.Slice(_textureAddress.Span[i], _textureWidth.Span[i] * _textureHeight.Span[i] * 3)
                .SequenceEqual(_textureDefault.AsSpan(_textureAddress.Span[i], _textureWidth.Span[i] * _textureHeight.Span[i] * 3));
            _textureChanged[i] = false;
        }
    }
}
