<#
.SYNOPSIS
    Build raksbl for Windows with one command: venv, PyInstaller bundle, Inno Setup installer.

.DESCRIPTION
    From a clone of the repository, in PowerShell 5.1 or 7:

        powershell -ExecutionPolicy Bypass -File build\build_windows.ps1

    1. finds a suitable Python (64-bit 3.11, else 3.12/3.13: the py launcher, then python on
       PATH), creates .venv unless it exists, installs raksbl with the "build" extra with every
       package pinned by build\constraints.txt (the same pins the Linux venv and bundle test use);
    2. runs PyInstaller with build\raksbl.spec -> dist\raksbl\raksbl.exe (tray, no console)
       and dist\raksbl\raksbl-cli.exe (command line);
    3. checks the built raksbl-cli.exe --version;
    4. signs raksbl.exe and raksbl-cli.exe when a code-signing certificate is configured
       (environment, see below);
    5. if Inno Setup 6.3+ (ISCC.exe) is found, compiles build\raksbl.iss ->
       dist\installer\raksbl-setup-<version>.exe (signed, with a signed uninstaller, when a
       certificate is configured).

    Code signing (optional; unsigned builds work, see build\BUILDING.md on SmartScreen):
        RAKSBL_SIGN_PFX            path to a .pfx file, with RAKSBL_SIGN_PFX_PASSWORD, or
        RAKSBL_SIGN_THUMBPRINT     SHA-1 thumbprint of a certificate in the user's store (EV token)
        RAKSBL_SIGN_TIMESTAMP_URL  RFC 3161 timestamp server (default http://timestamp.digicert.com)
        SIGNTOOL                   signtool.exe (default: the newest Windows SDK's x64 signtool)

    Needs: Python 3.11+ 64-bit from python.org (with the "py" launcher) and, for the installer,
    Inno Setup 6.3+ (winget install JRSoftware.InnoSetup). No administrator rights.
    This file is ASCII on purpose: Windows PowerShell 5.1 reads BOM-less files as ANSI.

.PARAMETER Python
    Python used to create .venv (default: the first 64-bit 3.11/3.12/3.13 from the py launcher,
    then "python" on PATH).

.PARAMETER Clean
    Remove dist\raksbl, build\work and PyInstaller's cache first.

.PARAMETER SkipInstaller
    Only build the bundle (dist\raksbl\), not the installer.

.PARAMETER WithTests
    Also install the "test" extra (CI runs the unit tests and the bundle test with this venv).

.PARAMETER RequireSigning
    Fail unless a code-signing certificate is configured (release builds).
#>
[CmdletBinding()]
param(
    [string]$Python = "",
    [switch]$Clean,
    [switch]$SkipInstaller,
    [switch]$WithTests,
    [switch]$RequireSigning
)

$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root
$Started = Get-Date

# Native programs do not throw on failure: check every exit code.
function Invoke-Native {
    param([Parameter(Mandatory)][string]$Exe, [string[]]$Arguments = @())
    Write-Host ">> $Exe $($Arguments -join ' ')"
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$Exe failed with exit code $LASTEXITCODE"
    }
}

# --- 1. virtual environment ----------------------------------------------------------------
# A Python that prints "3.11 64" etc.; $null if the command does not run.
function Get-PythonInfo {
    param([string[]]$Command)
    try {
        $rest = @($Command | Select-Object -Skip 1)
        $out = & $Command[0] @rest -c "import struct, sys; print('%d.%d %d' % (sys.version_info[0], sys.version_info[1], struct.calcsize('P') * 8))" 2>$null
        if ($LASTEXITCODE -eq 0 -and $out) { return ([string]$out).Trim() }
    } catch { }
    return $null
}

function Find-Python {
    $supported = @("3.11", "3.12", "3.13")  # 3.11 first: what the Linux CI runs
    if (Get-Command py -ErrorAction SilentlyContinue) {
        foreach ($v in $supported) {
            $info = Get-PythonInfo @("py", "-$v-64")
            if ($info -eq "$v 64") { return @("py", "-$v-64") }
        }
    }
    if (Get-Command python -ErrorAction SilentlyContinue) {
        $info = Get-PythonInfo @("python")
        if ($info) {
            $ver, $bits = $info.Split(" ")
            if (($supported -contains $ver) -and $bits -eq "64") { return @("python") }
            Write-Warning "python on PATH is $info; raksbl needs 64-bit Python $($supported -join '/')"
        }
    }
    throw ("No suitable Python found: install 64-bit Python 3.11 from python.org (with the py launcher) " +
           "or pass -Python C:\path\python.exe")
}

$VenvPython = Join-Path $Root ".venv\Scripts\python.exe"
if (-not (Test-Path $VenvPython)) {
    if (Test-Path (Join-Path $Root ".venv")) {
        throw ".venv exists but has no Scripts\python.exe (made on another OS?). Remove it or move it away."
    }
    if ($Python) {
        $base = @($Python)
    } else {
        $base = @(Find-Python)  # @(): a one-element answer ("python") would unroll to a string
    }
    $baseArgs = @($base | Select-Object -Skip 1)  # @(): stays an array even with one element
    Invoke-Native $base[0] ($baseArgs + @("-m", "venv", ".venv"))
}

$check = & $VenvPython -c "import struct, sys; print('%d.%d %d' % (sys.version_info[0], sys.version_info[1], struct.calcsize('P') * 8))"
if ($LASTEXITCODE -ne 0) { throw "$VenvPython does not run" }
$major, $minor = ($check.Split(" ")[0]).Split(".") | ForEach-Object { [int]$_ }
$bits = [int]$check.Split(" ")[1]
if ($major -lt 3 -or ($major -eq 3 -and $minor -lt 11)) { throw "Python 3.11+ needed, .venv has $check" }
if ($bits -ne 64) {
    # a 32-bit build works too, but then raksbl needs a 32-bit fbclient.dll and the installer
    # must not be restricted to x64 (see build\BUILDING.md)
    Write-Warning "The .venv Python is $bits-bit; build\raksbl.iss expects a 64-bit bundle."
}

Invoke-Native $VenvPython @("-m", "pip", "install", "--quiet", "--upgrade", "pip")
# editable: the spec analyses the source tree anyway (pathex), so no second copy goes stale;
# -c: every dependency at the version pinned in build\constraints.txt (reproducible bundle)
$extras = if ($WithTests) { "build,test" } else { "build" }
Invoke-Native $VenvPython @("-m", "pip", "install", "--quiet", "-e", ".[$extras]", "-c", "build\constraints.txt")

$Version = (& $VenvPython -c "import agent; print(agent.__version__)").Trim()
if ($LASTEXITCODE -ne 0 -or -not $Version) { throw "cannot read agent.__version__" }
$VersionNumeric = ([regex]::Match($Version, '^\d+(\.\d+){0,3}')).Value
if (-not $VersionNumeric) { $VersionNumeric = "0.0.0" }
Write-Host "raksbl $Version"

# --- 2. PyInstaller bundle -----------------------------------------------------------------
$pyiArgs = @("-m", "PyInstaller", "--noconfirm", "--distpath", "dist", "--workpath", "build\work")
if ($Clean) {
    foreach ($dir in @("dist\raksbl", "build\work")) {
        if (Test-Path $dir) { Remove-Item -Recurse -Force $dir }
    }
    $pyiArgs += "--clean"
}
$pyiArgs += "build\raksbl.spec"
$bundleStart = Get-Date
Invoke-Native $VenvPython $pyiArgs
$bundleSeconds = [int]((Get-Date) - $bundleStart).TotalSeconds

# --- 3. smoke test of the built console exe ------------------------------------------------
$Cli = Join-Path $Root "dist\raksbl\raksbl-cli.exe"
$Gui = Join-Path $Root "dist\raksbl\raksbl.exe"
foreach ($exe in @($Cli, $Gui)) {
    if (-not (Test-Path $exe)) { throw "missing $exe" }
}
$reported = (& $Cli --version | Out-String).Trim()
if ($LASTEXITCODE -ne 0 -or $reported -ne "raksbl $Version") {
    throw "dist\raksbl\raksbl-cli.exe --version printed '$reported' (exit $LASTEXITCODE), expected 'raksbl $Version'"
}
$bundleMB = [math]::Round(((Get-ChildItem -Recurse -File "dist\raksbl" | Measure-Object -Sum Length).Sum / 1MB), 1)
Write-Host "Bundle: dist\raksbl ($bundleMB MB, built in $bundleSeconds s)"

# --- 4. code signing (optional) -------------------------------------------------------------
function Find-SignTool {
    if ($env:SIGNTOOL) { return $env:SIGNTOOL }
    $onPath = Get-Command signtool.exe -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    $kits = Join-Path ${env:ProgramFiles(x86)} "Windows Kits\10\bin"
    if (Test-Path $kits) {
        $found = Get-ChildItem -Path $kits -Filter signtool.exe -Recurse -ErrorAction SilentlyContinue |
            Where-Object { $_.FullName -match "\\x64\\" } | Sort-Object FullName -Descending | Select-Object -First 1
        if ($found) { return $found.FullName }
    }
    return $null
}

# signtool arguments without the file names; $null when no certificate is configured
function Get-SignArguments {
    $timestamp = if ($env:RAKSBL_SIGN_TIMESTAMP_URL) { $env:RAKSBL_SIGN_TIMESTAMP_URL } else { "http://timestamp.digicert.com" }
    $common = @("sign", "/fd", "SHA256", "/td", "SHA256", "/tr", $timestamp, "/d", "raksbl")
    if ($env:RAKSBL_SIGN_PFX) {
        if (-not (Test-Path $env:RAKSBL_SIGN_PFX)) { throw "RAKSBL_SIGN_PFX points to a missing file" }
        $certArgs = @("/f", $env:RAKSBL_SIGN_PFX)
        if ($env:RAKSBL_SIGN_PFX_PASSWORD) { $certArgs += @("/p", $env:RAKSBL_SIGN_PFX_PASSWORD) }
        return $common + $certArgs
    }
    if ($env:RAKSBL_SIGN_THUMBPRINT) { return $common + @("/sha1", $env:RAKSBL_SIGN_THUMBPRINT) }
    return $null
}

$SignArgs = Get-SignArguments
$SignTool = $null
if ($SignArgs) {
    $SignTool = Find-SignTool
    if (-not $SignTool) { throw "A signing certificate is configured but signtool.exe was not found (install the Windows SDK or set SIGNTOOL)" }
    foreach ($exe in @($Gui, $Cli)) {
        # never echo the arguments: they may hold the .pfx password
        Write-Host ">> signtool sign $exe"
        & $SignTool @SignArgs $exe | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "signing $exe failed (exit $LASTEXITCODE)" }
        & $SignTool verify /pa /q $exe
        if ($LASTEXITCODE -ne 0) { throw "the signature of $exe does not verify" }
    }
    Write-Host "Signed: raksbl.exe, raksbl-cli.exe"
} elseif ($RequireSigning) {
    throw "-RequireSigning: set RAKSBL_SIGN_PFX (+ RAKSBL_SIGN_PFX_PASSWORD) or RAKSBL_SIGN_THUMBPRINT"
} else {
    Write-Warning "Unsigned build: Windows SmartScreen / Smart App Control will warn or block (build\BUILDING.md)."
}

# --- 5. installer --------------------------------------------------------------------------
if ($SkipInstaller) {
    Write-Host "Installer skipped (-SkipInstaller)."
    exit 0
}
$candidates = @()
if ($env:ISCC) { $candidates += $env:ISCC }
$onPath = Get-Command ISCC.exe -ErrorAction SilentlyContinue
if ($onPath) { $candidates += $onPath.Source }
foreach ($base in @(${env:ProgramFiles(x86)}, $env:ProgramFiles, (Join-Path $env:LOCALAPPDATA "Programs"))) {
    if ($base) { $candidates += (Join-Path $base "Inno Setup 6\ISCC.exe") }
}
$Iscc = $candidates | Where-Object { $_ -and (Test-Path $_) } | Select-Object -First 1
if (-not $Iscc) {
    Write-Warning ("Inno Setup (ISCC.exe) not found: the bundle is ready in dist\raksbl, but no installer was built. " +
                   "Install Inno Setup 6.3+ (winget install JRSoftware.InnoSetup) or set `$env:ISCC, then run this script again.")
    exit 0
}
$isccArgs = @("/Qp", "/DAppVersion=$Version", "/DAppVersionNumeric=$VersionNumeric")
if ($SignArgs) {
    # Inno Setup signs the installer and the uninstaller itself with this tool definition:
    # $f = the file, $q = a quote (no literal quotes: Windows PowerShell 5.1 mangles them when
    # it passes an argument containing spaces and quotes to a native program)
    $quoted = ($SignArgs | ForEach-Object { if ($_ -match '\s') { '$q' + $_ + '$q' } else { $_ } }) -join " "
    $isccArgs += @("/DSign=1", ('/Sraksblsign=$q' + $SignTool + '$q ' + $quoted + ' $f'))
}
$isccArgs += "build\raksbl.iss"
Write-Host ">> $Iscc (installer$(if ($SignArgs) { ', signed' }))"
& $Iscc @isccArgs
if ($LASTEXITCODE -ne 0) { throw "ISCC failed with exit code $LASTEXITCODE" }
$Setup = Join-Path $Root "dist\installer\raksbl-setup-$Version.exe"
if (-not (Test-Path $Setup)) { throw "ISCC finished but $Setup is missing" }
$setupMB = [math]::Round((Get-Item $Setup).Length / 1MB, 1)
$total = [int]((Get-Date) - $Started).TotalSeconds
Write-Host "Installer: $Setup ($setupMB MB). Total time: $total s."
