using CniRuntime.Protocol;

// The command set arrives with the CLI issue; until then cnirt reports the library's spec version.
if (args is ["version"] or ["--version"])
{
    Console.WriteLine($"cnirt: CNI spec {CniVersion.Current}, supports {string.Join(", ", CniVersion.All)}");
    return 0;
}

Console.Error.WriteLine("usage: cnirt version");
return 1;
