// zhichao's Rust core as an Android library: libzhichao_mobile.so for each ABI (built with
// cargo-ndk), the Kotlin bindings uniffi generates from it, and small wrappers.
//
// Plugin versions come from the including build (an app), or from settings.gradle.kts when this
// directory is built on its own.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

// The Rust workspace is the parent of this module, wherever the including build lives.
val rustWorkspace: File = projectDir.parentFile
// `-Pzhichao.cargo=/path/to/cargo` when cargo is not on Gradle's PATH (Android Studio on macOS).
val cargo: String = providers.gradleProperty("zhichao.cargo").getOrElse("cargo")
// Android ABIs and the Rust targets cargo-ndk builds them from (`rustup target add ...`):
// aarch64-linux-android, armv7-linux-androideabi, x86_64-linux-android.
val abis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")
val minSdkVersion = 24
val jniLibsDir: Directory = layout.projectDirectory.dir("src/main/jniLibs")
val uniffiDir: Provider<Directory> = layout.buildDirectory.dir("generated/source/uniffi/main/kotlin")

android {
    namespace = "cn.zhichao.core"
    compileSdk = 36

    defaultConfig {
        minSdk = minSdkVersion
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets {
        getByName("main") {
            // src/main/kotlin: wrappers that need only the JVM (also compiled and tested by
            // jvm-tests/run.sh); src/androidMain/kotlin: wrappers that need the Android SDK
            // (Keystore, lifecycle …), left out of the JVM tests.
            kotlin.srcDirs("src/main/kotlin", "src/androidMain/kotlin", uniffiDir)
            // jniLibs: the default src/main/jniLibs, filled by cargoNdkBuild (not committed).
        }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
    }
}

dependencies {
    // The generated bindings call the library through JNA; the AAR carries libjnidispatch.so
    // for each ABI.
    implementation("net.java.dev.jna:jna:5.14.0@aar")
    // `api`: the wrappers expose coroutine types (suspend functions, Flow).
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
}

val rustSources = fileTree(rustWorkspace) {
    include("Cargo.toml", "Cargo.lock", "core/Cargo.toml", "core/src/**")
    include("mobile-bindings/Cargo.toml", "mobile-bindings/uniffi.toml", "mobile-bindings/src/**")
}

// (a) libzhichao_mobile.so for each ABI into src/main/jniLibs/<abi>/.
val cargoNdkBuild by tasks.registering(Exec::class) {
    group = "rust"
    description = "Builds libzhichao_mobile.so with cargo-ndk for ${abis.joinToString()}."
    inputs.files(rustSources)
    inputs.property("abis", abis)
    outputs.dir(jniLibsDir)
    workingDir = rustWorkspace
    commandLine(
        listOf(cargo, "ndk") + abis.flatMap { listOf("-t", it) } +
            listOf(
                "-o", jniLibsDir.asFile.path,
                "--platform", minSdkVersion.toString(),
                // The `mobile` profile of the workspace: LTO, stripped (cargo-ndk 3 or newer
                // copies `--profile` builds into jniLibs).
                "build", "--profile", "mobile", "--locked", "-p", "zhichao-mobile",
            ),
    )
}

// (b) The Kotlin bindings (package cn.zhichao.core, set in mobile-bindings/uniffi.toml),
// generated from the built library's metadata: any ABI's build carries the same.
// The bindings are generated from a host build of the library: uniffi-bindgen reads the
// metadata from the symbol table, which the stripped `mobile` builds no longer have. The metadata
// is the same for every target.
val cargoHostLibrary by tasks.registering(Exec::class) {
    group = "rust"
    description = "Builds zhichao-mobile for the build machine, for uniffi-bindgen to read."
    inputs.files(rustSources)
    workingDir = rustWorkspace
    commandLine(cargo, "build", "--locked", "-p", "zhichao-mobile", "--lib")
}

val generateUniffiBindings by tasks.registering(Exec::class) {
    group = "rust"
    description = "Generates the Kotlin bindings of zhichao-mobile with uniffi-bindgen."
    dependsOn(cargoHostLibrary)
    // libzhichao_mobile.so on Linux, .dylib on macOS, zhichao_mobile.dll on Windows.
    // Cargo's target directory: CARGO_TARGET_DIR when set (relative to the workspace), else
    // the workspace's `target/`.
    val targetDir = System.getenv("CARGO_TARGET_DIR")?.let { File(it) }
        ?.let { if (it.isAbsolute) it else File(rustWorkspace, it.path) }
        ?: File(rustWorkspace, "target")
    val library = File(targetDir, "debug/" + System.mapLibraryName("zhichao_mobile"))
    inputs.file(library)
    inputs.file(File(rustWorkspace, "mobile-bindings/uniffi.toml"))
    outputs.dir(uniffiDir)
    workingDir = rustWorkspace
    val outDir = uniffiDir.get().asFile
    doFirst { outDir.deleteRecursively() } // no stale files from removed types
    commandLine(
        cargo, "run", "--locked", "-p", "uniffi-bindgen", "--",
        "generate", library.path,
        "--language", "kotlin",
        "--out-dir", outDir.path,
        "--no-format",
    )
}

tasks.named("preBuild") {
    dependsOn(cargoNdkBuild, generateUniffiBindings)
}

// The tests of src/test/kotlin need the host build of the library, the `zhichao` server and CLI:
// jvm-tests/run.sh provides them (it is what CI runs). Gradle's unit-test tasks are switched off
// in favour of this task.
tasks.register<Exec>("jvmTests") {
    group = "verification"
    description = "Runs the JVM tests against the host build (android/jvm-tests/run.sh)."
    workingDir = rustWorkspace
    environment("CARGO", cargo)
    commandLine("bash", "android/jvm-tests/run.sh")
}

tasks.withType<Test>().configureEach {
    enabled = false
}
