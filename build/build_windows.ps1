<#
.SYNOPSIS
    Build raksbl for Windows with one command: venv, PyInstaller bundle, Inno Setup installer.

.DESCRIPTION
    From a clone of the repository, in PowerShell 5.1 or 7:

        powershell -ExecutionPolicy Bypass -File build\build_windows.ps1

    1. creates .venv with Python 3.11+ (64-bit) unless it exists, installs raksbl with the
       "build" extra (PyInstaller);
    2. runs PyInstaller with build\raksbl.spec -> dist\raksbl\raksbl.exe (tray, no console)
       and dist\raksbl\raksbl-cli.exe (command line);
    3. checks the built raksbl-cli.exe --version;
    4. if Inno Setup 6.3+ (ISCC.exe) is found, compiles build\raksbl.iss ->
       dist\installer\raksbl-setup-<version>.exe.

    Needs: Python 3.11+ 64-bit from python.org (with the "py" launcher) and, for the installer,
    Inno Setup 6.3+ (winget install JRSoftware.InnoSetup). No administrator rights.
    This file is ASCII on purpose: Windows PowerShell 5.1 reads BOM-less files as ANSI.

.PARAMETER Python
    Python used to create .venv (default: "py -3.11", then "python" on PATH).

.PARAMETER Clean
    Remove dist\raksbl, build\work and PyInstaller's cache first.

.PARAMETER SkipInstaller
    Only build the bundle (dist\raksbl\), not the installer.
#>
[CmdletBinding()]
param(
    [string]$Python = "",
    [switch]$Clean,
    [switch]$SkipInstaller
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
$VenvPython = Join-Path $Root ".venv\Scripts\python.exe"
if (-not (Test-Path $VenvPython)) {
    if (Test-Path (Join-Path $Root ".venv")) {
        throw ".venv exists but has no Scripts\python.exe (made on another OS?). Remove it or move it away."
    }
    if ($Python) {
        $base = @($Python)
    } elseif (Get-Command py -ErrorAction SilentlyContinue) {
        $base = @("py", "-3.11")
    } elseif (Get-Command python -ErrorAction SilentlyContinue) {
        $base = @("python")
    } else {
        throw "Python 3.11+ not found: install it from python.org (64-bit, with the py launcher) or pass -Python C:\path\python.exe"
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
# editable: the spec analyses the source tree anyway (pathex), so no second copy goes stale
Invoke-Native $VenvPython @("-m", "pip", "install", "--quiet", "-e", ".[build]")

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

# --- 4. installer --------------------------------------------------------------------------
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
Invoke-Native $Iscc @("/Qp", "/DAppVersion=$Version", "/DAppVersionNumeric=$VersionNumeric", "build\raksbl.iss")
$Setup = Join-Path $Root "dist\installer\raksbl-setup-$Version.exe"
if (-not (Test-Path $Setup)) { throw "ISCC finished but $Setup is missing" }
$setupMB = [math]::Round((Get-Item $Setup).Length / 1MB, 1)
$total = [int]((Get-Date) - $Started).TotalSeconds
Write-Host "Installer: $Setup ($setupMB MB). Total time: $total s."
