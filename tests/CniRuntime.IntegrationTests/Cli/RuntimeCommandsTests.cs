using System.Text.Json;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Testing;

namespace CniRuntime.IntegrationTests.Cli;

/// <summary>cnirt's own commands, run as the published binary: netns, run/ls/inspect/rm, validate, version, completion.</summary>
/// <remarks>
/// With the port mapping suites: cnirt publishes in the node's one <c>cnirt</c> table, which must not change under
/// those tests' feet (nor they under these).
/// </remarks>
[Trait("Category", "Integration")]
[Collection(Ports.NetfilterTests.Name)]
public sealed class RuntimeCommandsTests : IAsyncLifetime
{
    private readonly NetnsFixture _node = new();
    private string _confDir = string.Empty;

    public async Task InitializeAsync()
    {
        await _node.InitializeAsync();
        _confDir = _node.NewTempDirectory("conf");
    }

    public Task DisposeAsync() => _node.DisposeAsync();

    [IntegrationFact]
    public async Task Netns_add_ls_exec_del_are_iproute2_namespaces_and_exec_propagates_the_exit_code()
    {
        var name = "cnirt-cli-" + NetnsFixture.NextUnique();
        try
        {
            var add = await CnirtBinary.RunAsync("netns", "add", name);
            Assert.Equal((0, $"/run/netns/{name}\n"), (add.ExitCode, add.Stdout));
            Assert.Contains(name, await NetnsFixture.RunAsync(Prerequisites.Ip, "netns", "list"), StringComparison.Ordinal);
            Assert.Contains(name + "\n", (await CnirtBinary.RunAsync("netns", "ls")).Stdout, StringComparison.Ordinal);

            var links = await CnirtBinary.RunAsync("netns", "exec", name, "--", Prerequisites.Ip, "-o", "link", "show");
            var failing = await CnirtBinary.RunAsync("netns", "exec", name, "--", "/bin/sh", "-c", "echo out; exit 7");

            Assert.True(links.ExitCode == 0, links.ToString());
            Assert.Equal(["lo"], links.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[1].Trim()));
            Assert.Equal((7, "out\n"), (failing.ExitCode, failing.Stdout));
            Assert.Equal(127, (await CnirtBinary.RunAsync("netns", "exec", name, "--", "/nonexistent/command")).ExitCode);

            var del = await CnirtBinary.RunAsync("netns", "del", name);
            Assert.Equal(0, del.ExitCode);
            Assert.False(File.Exists("/run/netns/" + name));
        }
        finally
        {
            if (File.Exists("/run/netns/" + name))
            {
                await NetnsFixture.RunAsync(Prerequisites.Ip, "netns", "delete", name);
            }
        }
    }

    [IntegrationFact]
    public async Task Without_CAP_SYS_ADMIN_netns_commands_fail_naming_the_privilege_and_change_nothing()
    {
        var name = "cnirt-cli-" + NetnsFixture.NextUnique();
        var existing = "cnirt-cli-" + NetnsFixture.NextUnique();
        Task<ProcessRun> Unprivileged(params string[] arguments) => ProcessRunner.RunAsync(
            "/usr/bin/setpriv", ["--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--", CnirtBinary.Path, .. arguments], TimeSpan.FromMinutes(1));
        try
        {
            Assert.Equal(0, (await CnirtBinary.RunAsync("netns", "add", existing)).ExitCode);

            var add = await Unprivileged("netns", "add", name);
            var del = await Unprivileged("netns", "del", existing);
            var exec = await Unprivileged("netns", "exec", existing, "--", "/bin/true");

            Assert.Equal((1, string.Empty), (add.ExitCode, add.Stdout));
            Assert.EndsWith(": Operation not permitted: network namespaces need CAP_SYS_ADMIN (run as root)\n", add.Stderr, StringComparison.Ordinal);
            Assert.False(File.Exists("/run/netns/" + name));
            Assert.Equal((1, $"unmount \"/run/netns/{existing}\": Operation not permitted: network namespaces need CAP_SYS_ADMIN (run as root)\n"), (del.ExitCode, del.Stderr));
            Assert.Equal((1, $"enter network namespace \"/run/netns/{existing}\": Operation not permitted: network namespaces need CAP_SYS_ADMIN (run as root)\n"), (exec.ExitCode, exec.Stderr));
            Assert.Contains(existing, await NetnsFixture.RunAsync(Prerequisites.Ip, "netns", "list"), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var leftover in new[] { name, existing }.Where(n => File.Exists("/run/netns/" + n)))
            {
                await NetnsFixture.RunAsync(Prerequisites.Ip, "netns", "delete", leftover);
            }
        }
    }

    [IntegrationFact]
    public async Task Run_on_the_built_in_default_network_then_ls_inspect_and_rm()
    {
        var run = await Cnirt("run", "--name", "web", "-p", "8080:80", "--label", "app=demo", "--pod", "default/web-0/uid-1");

        Assert.True(run.ExitCode == 0, run.ToString());
        var rows = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToDictionary(l => l.Split(' ')[0], l => l[10..]);
        Assert.Equal("web", rows["NAME"]);
        Assert.StartsWith("/run/netns/cnirt-", rows["NETNS"], StringComparison.Ordinal);
        Assert.Contains("cnirt (eth0)", rows["NETWORKS"], StringComparison.Ordinal);
        Assert.Contains("10.209.", rows["IPS"], StringComparison.Ordinal);
        Assert.Equal("8080->80/tcp", rows["PORTS"]);
        var id = rows["ID"];
        Assert.True(File.Exists(rows["NETNS"]));

        var ls = await Cnirt("ls");
        Assert.True(ls.ExitCode == 0, ls.ToString());
        Assert.Contains(ls.Stdout.Split('\n'), l => l.StartsWith(id[..12], StringComparison.Ordinal) && l.Contains(" web ", StringComparison.Ordinal) && l.Contains("10.209.", StringComparison.Ordinal));

        var inspect = await Cnirt("inspect", "web");
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        using (var json = JsonDocument.Parse(inspect.Stdout))
        {
            Assert.Equal(id, json.RootElement.GetProperty("id").GetString());
            Assert.Equal("demo", json.RootElement.GetProperty("labels").GetProperty("app").GetString());
            Assert.Equal(
                [$"K8S_POD_INFRA_CONTAINER_ID={id}", "K8S_POD_NAME=web-0", "K8S_POD_NAMESPACE=default", "K8S_POD_UID=uid-1", "app=demo"],
                json.RootElement.GetProperty("labels").EnumerateObject().Select(l => $"{l.Name}={l.Value.GetString()}"));
            Assert.Equal(["cni-loopback", "cnirt"], json.RootElement.GetProperty("networks").EnumerateArray().Select(n => n.GetProperty("name").GetString()));
        }

        var rm = await Cnirt("rm", "web");

        Assert.Equal((0, "web\n"), (rm.ExitCode, rm.Stdout));
        Assert.False(File.Exists(rows["NETNS"]));
        _ = Assert.Single((await Cnirt("ls")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the header alone
        Assert.Equal(1, (await Cnirt("rm", "web")).ExitCode);
        Assert.Equal(0, (await Cnirt("rm", "--force", "web")).ExitCode);
    }

    [IntegrationFact]
    public async Task Run_with_the_iptables_backend_publishes_in_chains_of_ours_and_rm_removes_them()
    {
        var run = await Cnirt("run", "--port-backend", "iptables", "-p", "8181:80", "-p", "5353:53/udp");

        Assert.True(run.ExitCode == 0, run.ToString());
        var save = await NetnsFixture.RunAsync("iptables-save", "-t", "nat");
        Assert.Contains("--dport 8181 -j DNAT", save, StringComparison.Ordinal);
        Assert.Contains("-p udp -m udp --dport 5353 -j DNAT", save, StringComparison.Ordinal);
        var ports = await Cnirt("ports", "ls");
        Assert.Contains("8181", ports.Stdout, StringComparison.Ordinal);
        var id = run.Stdout.Split('\n').First(l => l.StartsWith("ID", StringComparison.Ordinal))[10..];

        // The setting is not needed to remove them: each publication remembers its backend.
        var rm = await Cnirt("rm", id);

        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.DoesNotContain("CNIRT-DN-", await NetnsFixture.RunAsync("iptables-save", "-t", "nat"), StringComparison.Ordinal);
        var bad = await Cnirt("ls", "--port-backend", "ebtables");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("invalid --port-backend \"ebtables\": expected auto, nftables or iptables", bad.Stderr, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task Run_json_on_a_named_network_and_ls_json()
    {
        var subnet = NetnsFixture.NewSubnet();
        var list = Conflists.Bridge("named" + NetnsFixture.NextUnique(), _node.NewBridgeName(), _node.IpamDataDirectory, subnet);
        await File.WriteAllBytesAsync(Path.Combine(_confDir, "10-named.conflist"), list.Bytes.ToArray());

        var run = await Cnirt("run", "--network", list.Name, "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        string id;
        using (var json = JsonDocument.Parse(run.Stdout))
        {
            id = json.RootElement.GetProperty("id").GetString()!;
            var eth0 = json.RootElement.GetProperty("interfaces").EnumerateArray().Single(i => i.GetProperty("name").GetString() == "eth0");
            Assert.StartsWith(subnet.Prefix + ".", eth0.GetProperty("addresses")[0].GetProperty("address").GetString(), StringComparison.Ordinal);
            Assert.Equal(0, json.RootElement.GetProperty("ports").GetArrayLength());
        }

        var ls = await Cnirt("ls", "--json");
        using (var json = JsonDocument.Parse(ls.Stdout))
        {
            Assert.Equal([id], json.RootElement.EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        }

        Assert.Equal(0, (await Cnirt("rm", id[..12])).ExitCode);
    }

    [IntegrationFact]
    public async Task Run_with_a_malformed_port_label_or_pod_is_a_usage_error_and_creates_nothing()
    {
        var port = await Cnirt("run", "-p", "80");
        var label = await Cnirt("run", "--label", "novalue");
        var pod = await Cnirt("run", "--pod", "default/");

        Assert.Equal(2, port.ExitCode);
        Assert.Contains("invalid port \"80\"", port.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, label.ExitCode);
        Assert.Equal(2, pod.ExitCode);
        Assert.Contains("invalid pod \"default/\": expected NAMESPACE/NAME or NAMESPACE/NAME/UID", pod.Stderr, StringComparison.Ordinal);
        _ = Assert.Single((await Cnirt("ls")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [IntegrationFact]
    public async Task Validate_reports_schema_load_plugin_and_version_problems_at_once()
    {
        var good = Conflists.Bridge("good", _node.NewBridgeName(), _node.IpamDataDirectory, NetnsFixture.NewSubnet());
        await File.WriteAllBytesAsync(Path.Combine(_confDir, "10-good.conflist"), good.Bytes.ToArray());
        Assert.Equal(0, (await Cnirt("validate")).ExitCode);

        await File.WriteAllTextAsync(Path.Combine(_confDir, "20-schema.conflist"), """{"cniVersion":"1.0.0","name":"caps","plugins":[{"type":"bridge","capabilities":{"portMappings":"yes"}}]}""");
        await File.WriteAllTextAsync(Path.Combine(_confDir, "30-missing.conflist"), """{"cniVersion":"1.0.0","name":"missing","plugins":[{"type":"no-such-plugin"}]}""");
        await File.WriteAllTextAsync(Path.Combine(_confDir, "40-version.conflist"), """{"cniVersion":"1.1.0","name":"newer","plugins":[{"type":"bridge"}]}""");

        var text = await Cnirt("validate");
        var json = await Cnirt("validate", "--json");

        Assert.Equal(1, text.ExitCode);
        Assert.Contains("ok: good", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("$.plugins[0].capabilities.portMappings", text.Stderr, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.Stdout);
        var kinds = document.RootElement.GetProperty("problems").EnumerateArray()
            .Select(p => $"{Path.GetFileName(p.GetProperty("file").GetString())} {p.GetProperty("kind").GetString()}").ToList();
        Assert.Contains("20-schema.conflist Schema:BooleanExpected", kinds);
        Assert.Contains("20-schema.conflist LoadError", kinds);
        Assert.Contains("30-missing.conflist MissingPlugin", kinds);
        Assert.Contains("40-version.conflist UnsupportedVersion", kinds);
        Assert.False(document.RootElement.GetProperty("valid").GetBoolean());

        var one = await Cnirt("validate", "good");
        Assert.Equal((0, $"ok: good ({Path.Combine(_confDir, "10-good.conflist")})\n"), (one.ExitCode, one.Stdout));
        Assert.Equal(1, (await Cnirt("validate", Path.Combine(_confDir, "30-missing.conflist"))).ExitCode);
    }

    [IntegrationFact]
    public async Task Validate_reports_a_fifo_named_like_a_configuration_and_does_not_wait_on_it()
    {
        var good = Conflists.Bridge("good", _node.NewBridgeName(), _node.IpamDataDirectory, NetnsFixture.NewSubnet());
        await File.WriteAllBytesAsync(Path.Combine(_confDir, "10-good.conflist"), good.Bytes.ToArray());
        var fifo = Path.Combine(_confDir, "05-pipe.conflist");
        await NetnsFixture.RunAsync("/usr/bin/mkfifo", fifo);

        var json = await Cnirt("validate", "--json");

        Assert.Equal(1, json.ExitCode);
        using var document = JsonDocument.Parse(json.Stdout);
        var problem = Assert.Single(document.RootElement.GetProperty("problems").EnumerateArray());
        Assert.Equal((fifo, "LoadError"), (problem.GetProperty("file").GetString(), problem.GetProperty("kind").GetString()));
        Assert.Contains("it is a FIFO, not a regular file", problem.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("ok: good", (await Cnirt("validate")).Stdout, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task Version_help_usage_errors_and_completion()
    {
        var version = await CnirtBinary.RunAsync("version");
        var json = await CnirtBinary.RunAsync("version", "--json");
        var help = await CnirtBinary.RunAsync("--help");
        var bogus = await CnirtBinary.RunAsync("bogus");
        var bash = await CnirtBinary.RunAsync("completion", "bash");
        var zsh = await CnirtBinary.RunAsync("completion", "zsh");

        Assert.Equal(0, version.ExitCode);
        Assert.Contains("CNI spec 1.1.0", version.Stdout, StringComparison.Ordinal);
        using (var document = JsonDocument.Parse(json.Stdout))
        {
            Assert.Equal("1.1.0", document.RootElement.GetProperty("cniVersion").GetString());
        }

        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Exit codes: 0 success, 1 error", help.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, bogus.ExitCode);
        Assert.Contains("complete -o default -F _cnirt cnirt", bash.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"netns\") words=\"add del ls exec", bash.Stdout, StringComparison.Ordinal);
        Assert.Contains("compdef _cnirt cnirt", zsh.Stdout, StringComparison.Ordinal);
        var script = Path.Combine(_node.NewTempDirectory("completion"), "cnirt.bash");
        await File.WriteAllTextAsync(script, bash.Stdout);
        await NetnsFixture.RunAsync("/bin/bash", "-n", script);
    }

    private Task<ProcessRun> Cnirt(params string[] arguments) =>
        CnirtBinary.RunAsync(
            new Dictionary<string, string>(),
            ["--cache-dir", _node.CacheDirectory, "--conf-dir", _confDir, "--cni-path", Prerequisites.PluginDirectory, .. arguments]);
}
