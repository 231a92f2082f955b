package cn.zhichao.core

/**
 * What to tell the person holding the phone about an [ApiException], in Chinese, with the
 * library's reason (in English, no personal data) where there is one, and what to do next.
 */
val ApiException.userMessage: String
    get() = when (this) {
        is ApiException.Validation -> "输入有误：$reason"
        is ApiException.NotFound -> "本机没有这份记录，请先同步"
        is ApiException.Unauthorized -> "无权执行此操作，或设备需重新注册"
        is ApiException.Conflict -> "记录已被更改（如已提交），请刷新后重试"
        is ApiException.Storage -> "手机存储出错：$reason"
        is ApiException.Network -> "网络不可用，请稍后重试；本机已保存的记录不会丢失（$reason）"
        is ApiException.Internal -> "内部错误：$reason"
    }

/** True when trying again later may succeed by itself (no signal, server busy). */
val ApiException.isTransient: Boolean
    get() = this is ApiException.Network
