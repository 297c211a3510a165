using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace CniRuntime;

/// <summary>Optional features whose availability depends on how the application is built.</summary>
public static class CniFeatures
{
    /// <summary>The AppContext switch that turns JSON Schema validation off in a JIT build.</summary>
    public const string SchemaValidationSwitch = "CniRuntime.SchemaValidation.IsSupported";

    /// <summary>
    /// True when JSON Schema validation (NJsonSchema) can run: under the JIT unless switched off. Native AOT builds
    /// compile it out (NJsonSchema depends on reflection the trimmer removes), keeping the binary small and the
    /// ADD/DEL path free of it.
    /// </summary>
    [FeatureSwitchDefinition(SchemaValidationSwitch)]
    [FeatureGuard(typeof(RequiresUnreferencedCodeAttribute))]
    [FeatureGuard(typeof(RequiresDynamicCodeAttribute))]
#pragma warning disable IL4000 // The analyzer cannot prove the AppContext term; IsDynamicCodeSupported is false under AOT.
    public static bool SchemaValidationIsSupported =>
        RuntimeFeature.IsDynamicCodeSupported &&
        (!AppContext.TryGetSwitch(SchemaValidationSwitch, out var enabled) || enabled);
#pragma warning restore IL4000
}
