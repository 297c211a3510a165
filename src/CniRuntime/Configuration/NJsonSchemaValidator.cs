using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using NJsonSchema;
using NJsonSchema.Validation;

namespace CniRuntime.Configuration;

/// <summary>
/// The NJsonSchema-backed validator. Only reached through <see cref="CniFeatures.SchemaValidationIsSupported"/>, so
/// the trimmer removes it (and NJsonSchema, Newtonsoft.Json) from Native AOT builds.
/// </summary>
[RequiresUnreferencedCode("NJsonSchema uses reflection.")]
[RequiresDynamicCode("NJsonSchema uses reflection.")]
internal static class NJsonSchemaValidator
{
    private static readonly ConcurrentDictionary<string, Lazy<JsonSchema>> Schemas = new(StringComparer.Ordinal);

    public static IReadOnlyList<SchemaViolation> Validate(string resourceName, string json, string? file)
    {
        var schema = Schemas.GetOrAdd(resourceName, name => new Lazy<JsonSchema>(() => Load(name))).Value;
        ICollection<ValidationError> errors;
        try
        {
            errors = schema.Validate(json);
        }
        catch (Newtonsoft.Json.JsonException ex)
        {
            return [new SchemaViolation(file, "$", "InvalidJson", "not valid JSON: " + ex.Message)];
        }

        var violations = new List<SchemaViolation>();
        Flatten(errors, file, violations);
        return violations;
    }

    private static JsonSchema Load(string resourceName)
    {
        using var stream = CniSchemas.Assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"embedded schema {resourceName} is missing");
        using var reader = new StreamReader(stream);
        return JsonSchema.FromJsonAsync(reader.ReadToEnd()).GetAwaiter().GetResult();
    }

    // NJsonSchema nests the real errors of array items and map values inside wrapper errors; report the leaves.
    private static void Flatten(IEnumerable<ValidationError> errors, string? file, List<SchemaViolation> into)
    {
        foreach (var error in errors)
        {
            if (error is MultiTypeValidationError or ChildSchemaValidationError && error.Kind is ValidationErrorKind.NoTypeValidates or ValidationErrorKind.NotAnyOf or ValidationErrorKind.NotOneOf)
            {
                into.Add(new SchemaViolation(file, ToJsonPath(error.Path), error.Kind.ToString(), Describe(error)));
            }
            else if (error is ChildSchemaValidationError child && child.Errors.Count > 0)
            {
                Flatten(child.Errors.SelectMany(e => e.Value), file, into);
            }
            else if (error is MultiTypeValidationError multi && multi.Errors.Count > 0)
            {
                Flatten(multi.Errors.SelectMany(e => e.Value), file, into);
            }
            else
            {
                into.Add(new SchemaViolation(file, ToJsonPath(error.Path), error.Kind.ToString(), Describe(error)));
            }
        }
    }

    private static string ToJsonPath(string? path) =>
        string.IsNullOrEmpty(path) || path == "#" ? "$" : "$." + path.TrimStart('#', '/');

    private static string Describe(ValidationError error)
    {
        var schema = error.Schema;
        return error.Kind switch
        {
            ValidationErrorKind.PropertyRequired => $"required property '{error.Property}' is missing",
            ValidationErrorKind.PatternMismatch => $"does not match the pattern {schema?.Pattern}",
            ValidationErrorKind.StringTooShort => string.Create(CultureInfo.InvariantCulture, $"string is shorter than {schema?.MinLength}"),
            ValidationErrorKind.TooFewItems => string.Create(CultureInfo.InvariantCulture, $"array needs at least {schema?.MinItems} item(s)"),
            ValidationErrorKind.NumberTooBig => string.Create(CultureInfo.InvariantCulture, $"number is larger than {schema?.Maximum}"),
            ValidationErrorKind.NumberTooSmall => string.Create(CultureInfo.InvariantCulture, $"number is smaller than {schema?.Minimum}"),
            ValidationErrorKind.NotInEnumeration => $"must be one of {string.Join(", ", schema?.Enumeration.Select(e => $"\"{e}\"") ?? [])}",
            ValidationErrorKind.NoTypeValidates => $"expected {string.Join(" or ", schema?.Type.ToString().ToLowerInvariant().Split(", ") ?? [])} of the allowed form",
            ValidationErrorKind.StringExpected => "expected a string",
            ValidationErrorKind.IntegerExpected => "expected an integer",
            ValidationErrorKind.NumberExpected => "expected a number",
            ValidationErrorKind.BooleanExpected => "expected a boolean",
            ValidationErrorKind.ObjectExpected => "expected an object",
            ValidationErrorKind.ArrayExpected => "expected an array",
            _ => error.Kind.ToString(),
        };
    }
}
