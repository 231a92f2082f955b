package cn.zhichao.core

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The device's credentials (access and refresh token, opaque to the app) encrypted with an
 * AES-256-GCM key that never leaves the Android Keystore, the ciphertext kept in the app's
 * private preferences. Pass it to [enroll] and [FieldStore.open].
 *
 * Saves are synchronous (`commit`): the library hands a rotated refresh token here before it
 * uses it, and a token lost to a crash would sign the device out.
 */
class KeystoreSecretStore(
    context: Context,
    private val alias: String = "zhichao-device-credentials",
) : SecretStore {
    private val prefs =
        context.applicationContext.getSharedPreferences("zhichao_secret", Context.MODE_PRIVATE)
    private val lock = Any()

    override fun load(): String? = synchronized(lock) {
        val stored = prefs.getString(PREF_KEY, null) ?: return null
        try {
            val bytes = Base64.decode(stored, Base64.NO_WRAP)
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(
                Cipher.DECRYPT_MODE,
                key(),
                GCMParameterSpec(TAG_BITS, bytes, 0, IV_BYTES),
            )
            String(cipher.doFinal(bytes, IV_BYTES, bytes.size - IV_BYTES), Charsets.UTF_8)
        } catch (e: Exception) {
            // The key was removed (device credentials reset) or the data damaged: enroll again.
            throw ApiException.Storage("cannot decrypt the device credentials (${e.javaClass.simpleName})")
        }
    }

    override fun save(secret: String): Unit = synchronized(lock) {
        val sealed = try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, key())
            cipher.iv + cipher.doFinal(secret.toByteArray(Charsets.UTF_8))
        } catch (e: Exception) {
            throw ApiException.Storage("cannot encrypt the device credentials (${e.javaClass.simpleName})")
        }
        if (!prefs.edit().putString(PREF_KEY, Base64.encodeToString(sealed, Base64.NO_WRAP)).commit()) {
            throw ApiException.Storage("cannot write the device credentials")
        }
    }

    override fun clear(): Unit = synchronized(lock) {
        if (!prefs.edit().remove(PREF_KEY).commit()) {
            throw ApiException.Storage("cannot remove the device credentials")
        }
    }

    private fun key(): SecretKey {
        val keyStore = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        (keyStore.getKey(alias, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, KEYSTORE)
        generator.init(
            KeyGenParameterSpec.Builder(
                alias,
                KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT,
            )
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    private companion object {
        const val KEYSTORE = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val PREF_KEY = "credentials"
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}
