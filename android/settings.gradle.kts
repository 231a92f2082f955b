// The Android library over zhichao's Rust core, as a standalone Gradle build. An app can also
// include this directory as a module: `include(":zhichao-core")` and
// `project(":zhichao-core").projectDir = file("path/to/zhichao/android")` in its settings.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
    // Used when this directory is built on its own; an including app brings its own versions.
    // Kotlin: the version of the compiler the JVM tests use (jvm-tests/package.json).
    plugins {
        id("com.android.library") version "8.13.2"
        id("org.jetbrains.kotlin.android") version "2.4.20"
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "zhichao-core"
